//! The experiments (`/experiments`): each with when it was made and last
//! changed and where its artifacts go, filtered with the API's grammar
//! (`name LIKE 'iris%'`), paged through the store's page tokens.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::ErrorCode;
use retrain_registry::entities::{Experiment, ViewType};
use serde::{Deserialize, Serialize};

use super::experiment_href;
use crate::ui::render::render_with_status;
use crate::ui::store_refusal;
use crate::ui::{Ui, Viewer, page_context};

/// Experiments listed a page.
const EXPERIMENTS_A_PAGE: i64 = 50;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    filter: String,
    /// The store's token for the page to show; the first page without it.
    page: Option<String>,
}

#[derive(Serialize)]
struct ExperimentRow {
    href: String,
    id: String,
    name: String,
    created: i64,
    updated: i64,
    artifact_location: String,
}

impl From<Experiment> for ExperimentRow {
    fn from(e: Experiment) -> Self {
        ExperimentRow {
            href: experiment_href(&e.experiment_id),
            id: e.experiment_id,
            name: e.name,
            created: e.creation_time,
            updated: e.last_update_time,
            artifact_location: e.artifact_location,
        }
    }
}

/// `GET /experiments`.
pub(super) async fn list(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let filter = query.filter.trim();
    let order = ["name ASC".to_owned()];
    let found = ui
        .store
        .search_experiments(
            ViewType::ActiveOnly,
            Some(filter).filter(|f| !f.is_empty()),
            Some(EXPERIMENTS_A_PAGE),
            &order,
            query.page.as_deref(),
        )
        .await;
    let (status, rows, next, problem) = match found {
        Ok((experiments, next)) => {
            (StatusCode::OK, experiments.into_iter().map(ExperimentRow::from).collect(), next, None)
        }
        Err(e) if e.code == ErrorCode::InvalidParameterValue => {
            (StatusCode::BAD_REQUEST, Vec::new(), None, Some(e.message))
        }
        Err(e) => return store_refusal(&e),
    };
    let next = next.map(|token| {
        let query = serde_html_form::to_string([("filter", filter), ("page", &token)]).unwrap_or_default();
        format!("/experiments?{query}")
    });
    render_with_status(
        status,
        "experiments/list.html",
        page_context(
            &viewer,
            "/experiments",
            &[],
            context! { experiments => Serde(rows), filter, problem, next, paged => query.page.is_some() },
        ),
    )
}
