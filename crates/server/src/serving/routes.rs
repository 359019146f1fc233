//! The scoring routes: `retrain serve`'s one model at `/invocations`, and
//! the models `retrain up` serves by name at `/models/{name}/invocations`;
//! `/ping`, `/health`, `/version` and Prometheus `/metrics` beside them.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use retrain_registry::Role;
use serde::Deserialize;

use super::catalog::{ModelCatalog, Selector};
use super::metrics::ServingMetrics;
use super::model::{ModelHandle, ServedModel};
use super::scoring::{ScoringError, is_true, score};
use super::{MAX_REQUEST_BYTES, MODEL_HEADER, VERSION_HEADER};
use crate::routes::{GET, POST, Routes};

/// The query of `POST /invocations`.
#[derive(Deserialize)]
struct ScoreQuery {
    /// Also return class probabilities (`true`, `1` or `yes`).
    #[serde(default)]
    proba: Option<String>,
}

/// Scores and records metrics; adds the headers naming the model.
fn answer(
    served: &ServedModel,
    metrics: &ServingMetrics,
    headers: &HeaderMap,
    body: &Bytes,
    proba: bool,
) -> Response {
    let started = Instant::now();
    let mut response = match score(served, headers, body, proba) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => e.into_response(),
    };
    metrics.observe(&served.name, response.status(), started.elapsed());
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&served.name) {
        h.insert(MODEL_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&served.version) {
        h.insert(VERSION_HEADER, v);
    }
    response
}

async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], "\n").into_response()
}

async fn metrics_text(metrics: Arc<ServingMetrics>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
        .into_response()
}

/// The routes of `retrain serve`: one model. A viewer may score.
pub(crate) fn single_model_routes(handle: Arc<ModelHandle>) -> Routes {
    let metrics = handle.metrics.clone();
    Routes::new()
        .to(POST, "/invocations", Role::Viewer, invocations)
        .public(GET, "/ping", ping)
        .public(GET, "/health", ping)
        .public(GET, "/version", || async { crate::VERSION })
        .to(GET, "/metrics", Role::Viewer, move || metrics_text(metrics.clone()))
        .map_router(|router| router.layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)))
        .with_state(handle)
}

async fn invocations(
    State(handle): State<Arc<ModelHandle>>,
    Query(query): Query<ScoreQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let served = handle.current();
    answer(&served, &handle.metrics, &headers, &body, is_true(query.proba.as_deref()))
}

/// The routes of the models a tracking server serves by name. A viewer
/// may score.
pub(crate) fn catalog_routes(catalog: Arc<ModelCatalog>) -> Routes {
    let metrics = catalog.metrics.clone();
    Routes::new()
        .to(POST, "/models/{name}/invocations", Role::Viewer, catalog_invocations)
        .public(GET, "/ping", ping)
        .to(GET, "/metrics", Role::Viewer, move || metrics_text(metrics.clone()))
        .map_router(|router| router.layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)))
        .with_state(catalog)
}

async fn catalog_invocations(
    State(catalog): State<Arc<ModelCatalog>>,
    Path(name): Path<String>,
    Query(selector): Query<Selector>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScoringError> {
    let uri = selector.uri(&name)?;
    let handle =
        catalog.handle(uri.clone()).await.map_err(|source| ScoringError::Unavailable { uri, source })?;
    let served = handle.current();
    Ok(answer(&served, &catalog.metrics, &headers, &body, is_true(selector.proba.as_deref())))
}
