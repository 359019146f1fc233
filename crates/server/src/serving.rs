//! Model serving with MLflow's scoring protocol: `POST /invocations`
//! (`dataframe_split`, `dataframe_records`, `instances`, `inputs`, CSV),
//! `{"predictions": [...]}` answers, `/ping`, `/health`, `/version` and
//! Prometheus `/metrics`.
//!
//! A served model is a [`ModelHandle`]: the model in use behind an `Arc`
//! that a request clones when it starts, so swapping in a new version never
//! disturbs requests in flight. For a registry URI (`models:/NAME@ALIAS`,
//! `…/Production`) a watcher polls the registry and, when the alias or
//! stage has moved, loads the new version in the background and swaps it
//! in; a version that fails to load is reported and the old one keeps
//! serving.
//!
//! Where MLflow's server is careless this one is not: a column the model
//! does not know is a 400 naming it (MLflow drops it silently), and a
//! request without a content type is a 415 (MLflow answers 500).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use retrain_ml::Model;
use retrain_registry::MlflowClient;
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Response headers naming the model that answered.
pub const MODEL_HEADER: &str = "x-retrain-model";
pub const VERSION_HEADER: &str = "x-retrain-model-version";

/// The model in use and which one it is.
pub struct ServedModel {
    pub model: Model,
    /// The registered model's name, or the directory served.
    pub name: String,
    /// The registry version, or `local` for a directory.
    pub version: String,
}

/// Where a served model comes from.
#[derive(Clone)]
pub enum ModelSource {
    Dir(PathBuf),
    Registry { uri: String, tracking: MlflowClient, cache: PathBuf },
}

impl ModelSource {
    /// A model directory, or a registry URI resolved through `tracking_uri`.
    pub fn parse(spec: &str, tracking_uri: Option<&str>, cache: &Path) -> Result<ModelSource, String> {
        if spec.starts_with("models:/") || spec.starts_with("runs:/") {
            let uri = tracking_uri.ok_or_else(|| {
                format!("{spec} is a registry URI: give --tracking-uri or set MLFLOW_TRACKING_URI")
            })?;
            let tracking = MlflowClient::new(uri).map_err(|e| e.to_string())?;
            return Ok(ModelSource::Registry { uri: spec.to_string(), tracking, cache: cache.to_path_buf() });
        }
        Ok(ModelSource::Dir(PathBuf::from(spec)))
    }

    /// The version the source names now (`local` for a directory).
    async fn current_version(&self) -> Result<String, String> {
        match self {
            ModelSource::Dir(_) => Ok("local".into()),
            ModelSource::Registry { uri, tracking, .. } => {
                let (version, _) = tracking.resolve(uri).await.map_err(|e| e.to_string())?;
                Ok(version.map_or_else(|| "run".into(), |v| v.version))
            }
        }
    }

    /// Loads what the source names now.
    pub async fn load(&self) -> Result<ServedModel, String> {
        let (name, version, dir) = match self {
            ModelSource::Dir(dir) => (dir.display().to_string(), "local".to_string(), dir.clone()),
            ModelSource::Registry { uri, tracking, cache } => {
                let (version, dir) = tracking.fetch_model(uri, cache).await.map_err(|e| e.to_string())?;
                match version {
                    Some(v) => (v.name, v.version, dir),
                    None => (uri.clone(), "run".into(), dir),
                }
            }
        };
        let model = tokio::task::spawn_blocking(move || Model::load(&dir))
            .await
            .map_err(|e| format!("loading was interrupted: {e}"))?
            .map_err(|e| e.to_string())?;
        Ok(ServedModel { model, name, version })
    }
}

/// Metric labels: `model`, and `status` for requests.
type Labels = Vec<(String, String)>;

/// Request, error, latency and reload metrics of every served model.
pub struct ServingMetrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    version: Family<Labels, Gauge>,
    last_reload: Family<Labels, Gauge<f64, AtomicU64>>,
    reload_failures: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~1.6 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

impl Default for ServingMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("retrain_serving");
        let requests = Family::<Labels, Counter>::default();
        let latency =
            Family::<_, _, fn() -> Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let version = Family::<Labels, Gauge>::default();
        let last_reload = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let reload_failures = Family::<Labels, Counter>::default();
        registry.register("requests", "Scoring requests by model and HTTP status", requests.clone());
        registry.register("request_duration_seconds", "Time to answer a scoring request", latency.clone());
        registry.register("model_version", "The registry version being served", version.clone());
        registry.register(
            "last_reload_timestamp_seconds",
            "When the served model was last (re)loaded",
            last_reload.clone(),
        );
        registry.register("reload_failures", "New versions that failed to load", reload_failures.clone());
        ServingMetrics { registry, requests, latency, version, last_reload, reload_failures }
    }
}

fn model_label(name: &str) -> Labels {
    vec![("model".to_string(), name.to_string())]
}

impl ServingMetrics {
    fn observe(&self, model: &str, status: StatusCode, elapsed: Duration) {
        let mut labels = model_label(model);
        labels.push(("status".into(), status.as_u16().to_string()));
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&model_label(model)).observe(elapsed.as_secs_f64());
    }

    fn loaded(&self, served: &ServedModel) {
        let labels = model_label(&served.name);
        self.version.get_or_create(&labels).set(served.version.parse().unwrap_or(0));
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        self.last_reload.get_or_create(&labels).set(now);
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// One served model, swappable while it serves.
pub struct ModelHandle {
    source: ModelSource,
    current: RwLock<Arc<ServedModel>>,
    metrics: Arc<ServingMetrics>,
    /// The last reload error, for logs and `/health`.
    last_error: Mutex<Option<String>>,
}

impl ModelHandle {
    /// Loads the model once; fails when it cannot be loaded at all.
    pub async fn open(source: ModelSource, metrics: Arc<ServingMetrics>) -> Result<Arc<ModelHandle>, String> {
        let served = source.load().await?;
        metrics.loaded(&served);
        tracing::info!(model = %served.name, version = %served.version, "serving");
        Ok(Arc::new(ModelHandle {
            source,
            current: RwLock::new(Arc::new(served)),
            metrics,
            last_error: Mutex::new(None),
        }))
    }

    /// The model to answer the next request with.
    pub fn current(&self) -> Arc<ServedModel> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in the version the source names now, if it changed. Returns
    /// the new version, or `None` when nothing changed.
    pub async fn refresh(&self) -> Result<Option<String>, String> {
        let wanted = self.source.current_version().await?;
        let current = self.current();
        if wanted == current.version {
            return Ok(None);
        }
        match self.source.load().await {
            Ok(served) => {
                let version = served.version.clone();
                tracing::info!(model = %served.name, from = %current.version, to = %version, "new version in service");
                self.metrics.loaded(&served);
                let served = Arc::new(served);
                match self.current.write() {
                    Ok(mut guard) => *guard = served,
                    Err(poisoned) => *poisoned.into_inner() = served,
                }
                Ok(Some(version))
            }
            Err(e) => {
                self.metrics.reload_failures.get_or_create(&model_label(&current.name)).inc();
                Err(format!(
                    "version {wanted} of {} failed to load; version {} keeps serving: {e}",
                    current.name, current.version
                ))
            }
        }
    }

    /// Polls the registry every `every` and swaps versions as they move,
    /// until the handle is dropped by everyone else.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let handle = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(handle) = handle.upgrade() else { return };
                if let ModelSource::Dir(_) = handle.source {
                    return;
                }
                let result = handle.refresh().await;
                let mut last = handle.last_error.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(_) => *last = None,
                    Err(e) => {
                        if last.as_deref() != Some(e.as_str()) {
                            tracing::error!("{e}");
                        }
                        *last = Some(e);
                    }
                }
            }
        })
    }
}

/// MLflow's error shape.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error_code": code, "message": message.into()}))).into_response()
}

#[derive(Deserialize, Default)]
pub struct ScoreQuery {
    /// Also return class probabilities.
    #[serde(default)]
    proba: Option<String>,
}

/// A label as MLflow would return it: integers stay integers.
fn label_value(label: &str) -> Value {
    match label.parse::<i64>() {
        Ok(n) if n.to_string() == label => json!(n),
        _ => json!(label),
    }
}

/// Scores one request with `handle`'s current model.
fn score(served: &ServedModel, headers: &HeaderMap, body: &Bytes, proba: bool) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let dataset = match media.as_str() {
        "application/json" => retrain_ml::input::from_json(body, &served.model.metadata.features),
        "text/csv" => match std::str::from_utf8(body) {
            Ok(text) => retrain_ml::input::from_csv(text, &served.model.metadata.target),
            Err(_) => return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the CSV body is not UTF-8"),
        },
        _ => {
            let got = if content_type.is_empty() {
                "no Content-Type".to_string()
            } else {
                format!("'{content_type}'")
            };
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "BAD_REQUEST",
                format!("send Content-Type application/json or text/csv; got {got}"),
            );
        }
    };
    let predictions = dataset.and_then(|d| served.model.predict(&d));
    let predictions = match predictions {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", e.to_string()),
    };
    let labels: Vec<Value> =
        predictions.class_index.iter().map(|&c| label_value(served.model.label(c))).collect();
    let mut answer = json!({"predictions": labels});
    if proba {
        if !predictions.has_proba {
            return error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("{} has no class probabilities", served.model.metadata.algorithm),
            );
        }
        let rows: Vec<Vec<f64>> =
            (0..predictions.scores.rows()).map(|i| predictions.scores.row(i).to_vec()).collect();
        answer["probabilities"] = json!(rows);
        answer["classes"] =
            json!(served.model.metadata.classes.iter().map(|c| label_value(c)).collect::<Vec<_>>());
    }
    axum::Json(answer).into_response()
}

fn is_true(flag: Option<&str>) -> bool {
    matches!(flag.map(str::to_ascii_lowercase).as_deref(), Some("true" | "1" | "yes"))
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
    let mut response = score(served, headers, body, proba);
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

/// The routes of `retrain serve`: one model.
pub(crate) fn single_model_routes(handle: Arc<ModelHandle>) -> Router {
    let metrics = handle.metrics.clone();
    Router::new()
        .route(
            "/invocations",
            post(
                |State(handle): State<Arc<ModelHandle>>,
                 Query(q): Query<ScoreQuery>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let served = handle.current();
                    answer(&served, &handle.metrics, &headers, &body, is_true(q.proba.as_deref()))
                },
            ),
        )
        .route("/ping", get(ping))
        .route("/health", get(ping))
        .route("/version", get(|| async { crate::VERSION }))
        .route("/metrics", get(move || metrics_text(metrics.clone())))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(handle)
}

/// How a tracking server serves registered models by name.
#[derive(Clone)]
pub struct ServingOptions {
    /// The registry that names the versions (for `retrain up`, itself).
    pub tracking: MlflowClient,
    /// Where downloaded model versions are kept.
    pub cache: PathBuf,
    /// How often a served alias or stage is checked for a new version.
    pub poll: Duration,
}

/// Models served by name inside `retrain up`: `POST
/// /models/{name}/invocations?alias=champion` (the default), `?version=3`
/// or `?stage=Production`, each loaded on first use and then watched.
pub(crate) struct ModelCatalog {
    tracking: MlflowClient,
    cache: PathBuf,
    poll: Duration,
    metrics: Arc<ServingMetrics>,
    handles: tokio::sync::Mutex<HashMap<String, Arc<ModelHandle>>>,
}

#[derive(Deserialize, Default)]
pub struct Selector {
    alias: Option<String>,
    version: Option<String>,
    stage: Option<String>,
    proba: Option<String>,
}

impl ModelCatalog {
    pub(crate) fn new(options: ServingOptions) -> ModelCatalog {
        ModelCatalog {
            tracking: options.tracking,
            cache: options.cache,
            poll: options.poll,
            metrics: Arc::new(ServingMetrics::default()),
            handles: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn handle(&self, uri: String) -> Result<Arc<ModelHandle>, String> {
        let mut handles = self.handles.lock().await;
        if let Some(handle) = handles.get(&uri) {
            return Ok(handle.clone());
        }
        let source = ModelSource::Registry {
            uri: uri.clone(),
            tracking: self.tracking.clone(),
            cache: self.cache.clone(),
        };
        let handle = ModelHandle::open(source, self.metrics.clone()).await?;
        handle.watch(self.poll);
        handles.insert(uri, handle.clone());
        Ok(handle)
    }
}

/// The routes of the models a tracking server serves by name.
pub(crate) fn catalog_routes(catalog: Arc<ModelCatalog>) -> Router {
    let metrics = catalog.metrics.clone();
    Router::new()
        .route("/models/{name}/invocations", post(catalog_invocations))
        .route("/ping", get(ping))
        .route("/metrics", get(move || metrics_text(metrics.clone())))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(catalog)
}

async fn catalog_invocations(
    State(catalog): State<Arc<ModelCatalog>>,
    UrlPath(name): UrlPath<String>,
    Query(selector): Query<Selector>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let uri = match (&selector.alias, &selector.version, &selector.stage) {
        (None, None, None) => format!("models:/{name}@champion"),
        (Some(alias), None, None) => format!("models:/{name}@{alias}"),
        (None, Some(version), None) => format!("models:/{name}/{version}"),
        (None, None, Some(stage)) => format!("models:/{name}/{stage}"),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "give at most one of alias, version, stage",
            );
        }
    };
    match catalog.handle(uri.clone()).await {
        Ok(handle) => {
            let served = handle.current();
            answer(&served, &catalog.metrics, &headers, &body, is_true(selector.proba.as_deref()))
        }
        Err(e) => error(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", format!("cannot serve {uri}: {e}")),
    }
}
