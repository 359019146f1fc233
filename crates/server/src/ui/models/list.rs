//! The registered models (`/models`): each with its champion, which
//! version holds Production and Staging, and when it last changed, so one
//! look says what is live. Paged through the store's page tokens, so a
//! large registry never loads whole.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::entities::RegisteredModel;
use serde::{Deserialize, Serialize};

use crate::ui::overview::store_failure;
use crate::ui::render::render;
use crate::ui::timeline::CHAMPION;
use crate::ui::{Ui, Viewer, page_context};

/// Models listed a page.
const MODELS_A_PAGE: i64 = 50;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// The store's token for the page to show; the first page without it.
    page: Option<String>,
}

#[derive(Serialize)]
struct ModelRow {
    name: String,
    champion: Option<String>,
    /// (stage, version) for each stage in use.
    stages: Vec<(String, String)>,
    last_updated: i64,
}

impl From<RegisteredModel> for ModelRow {
    fn from(model: RegisteredModel) -> Self {
        let champion = model.aliases.iter().find(|a| a.alias == CHAMPION).map(|a| a.version.clone());
        let stages = model
            .latest_versions
            .iter()
            .filter(|v| v.current_stage != "None")
            .map(|v| (v.current_stage.clone(), v.version.clone()))
            .collect();
        ModelRow { name: model.name, champion, stages, last_updated: model.last_updated_timestamp }
    }
}

/// `GET /models`.
pub(super) async fn models(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let order = ["name ASC".to_owned()];
    let found =
        ui.store.search_registered_models(None, Some(MODELS_A_PAGE), &order, query.page.as_deref()).await;
    let (models, next) = match found {
        Ok(found) => found,
        Err(e) => return store_failure(&e),
    };
    let rows: Vec<ModelRow> = models.into_iter().map(ModelRow::from).collect();
    render(
        "models/list.html",
        page_context(&viewer, "/models", &[], context! { models => Serde(rows), next }),
    )
}
