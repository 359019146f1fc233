//! MLflow 3's logged models (what `log_model` creates) and the run
//! outputs that link them to runs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use retrain_registry::SqlStore;
use retrain_registry::entities::{LoggedModel, Param, Tag};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiResult;
use super::message::{Message, Paged, empty, lenient, paged};

type Reply = ApiResult<Json<Value>>;

#[derive(Deserialize)]
pub(crate) struct CreateLoggedModel {
    experiment_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create_logged_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<CreateLoggedModel>,
) -> Reply {
    let model = store
        .create_logged_model(
            &req.experiment_id,
            req.name.as_deref(),
            req.source_run_id.as_deref(),
            req.model_type.as_deref(),
            &req.params,
            &req.tags,
        )
        .await?;
    Ok(Json(json!({"model": model})))
}

pub(crate) async fn get_logged_model(
    State(store): State<Arc<SqlStore>>,
    Path(model_id): Path<String>,
) -> Reply {
    Ok(Json(json!({"model": store.get_logged_model(&model_id).await?})))
}

#[derive(Deserialize)]
pub(crate) struct FinalizeLoggedModel {
    status: String,
}

pub(crate) async fn finalize_logged_model(
    State(store): State<Arc<SqlStore>>,
    Path(model_id): Path<String>,
    Message(req): Message<FinalizeLoggedModel>,
) -> Reply {
    Ok(Json(json!({"model": store.finalize_logged_model(&model_id, &req.status).await?})))
}

pub(crate) async fn delete_logged_model(
    State(store): State<Arc<SqlStore>>,
    Path(model_id): Path<String>,
) -> Reply {
    store.delete_logged_model(&model_id).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct LoggedModelTags {
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn set_logged_model_tags(
    State(store): State<Arc<SqlStore>>,
    Path(model_id): Path<String>,
    Message(req): Message<LoggedModelTags>,
) -> Reply {
    store.set_logged_model_tags(&model_id, &req.tags).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct SearchLoggedModels {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search_logged_models(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<SearchLoggedModels>,
) -> ApiResult<Paged<LoggedModel>> {
    let page = store
        .search_logged_models(
            &req.experiment_ids,
            req.filter.as_deref(),
            req.max_results,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(paged("models", page))
}

#[derive(Deserialize)]
struct ModelOutput {
    model_id: String,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct LogOutputs {
    run_id: String,
    #[serde(default)]
    models: Vec<ModelOutput>,
}

pub(crate) async fn log_outputs(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<LogOutputs>,
) -> Reply {
    let models: Vec<(String, i64)> =
        req.models.into_iter().map(|m| (m.model_id, m.step.unwrap_or(0))).collect();
    store.log_outputs(&req.run_id, &models).await?;
    Ok(empty())
}
