//! Tracking endpoints: experiments, runs, metrics, params, tags, inputs.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use retrain_registry::entities::{DatasetInput, Experiment, Metric, Param, Run, Tag, ViewType};
use retrain_registry::{SqlStore, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::message::{Message, Paged, empty, lenient, paged};
use crate::auth::Actor;

type Reply = ApiResult<Json<Value>>;

/// `run_id`, or the legacy `run_uuid` the client also sends.
#[derive(Deserialize)]
pub(crate) struct RunRef {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
}

impl RunRef {
    /// The run's id; a missing or empty one is a 400.
    pub(crate) fn id(&self) -> ApiResult<&str> {
        self.run_id
            .as_deref()
            .or(self.run_uuid.as_deref())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::invalid("Missing value for required parameter 'run_id'."))
    }
}

fn view_type(value: Option<String>) -> ApiResult<ViewType> {
    match value.as_deref() {
        None | Some("" | "ACTIVE_ONLY") => Ok(ViewType::ActiveOnly),
        Some("DELETED_ONLY") => Ok(ViewType::DeletedOnly),
        Some("ALL") => Ok(ViewType::All),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid view type '{other}'; expected ACTIVE_ONLY, DELETED_ONLY or ALL"
        ))),
    }
}

#[derive(Deserialize)]
pub(crate) struct CreateExperiment {
    name: String,
    #[serde(default)]
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create_experiment(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<CreateExperiment>,
) -> Reply {
    let id = store.create_experiment(&req.name, req.artifact_location.as_deref(), &req.tags).await?;
    Ok(Json(json!({"experiment_id": id})))
}

#[derive(Deserialize)]
pub(crate) struct ExperimentRef {
    experiment_id: String,
}

pub(crate) async fn get_experiment(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ExperimentRef>,
) -> Reply {
    let experiment = store.get_experiment(&req.experiment_id).await?;
    Ok(Json(json!({"experiment": experiment})))
}

#[derive(Deserialize)]
pub(crate) struct ExperimentByName {
    experiment_name: String,
}

pub(crate) async fn get_experiment_by_name(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ExperimentByName>,
) -> Reply {
    let experiment = store.get_experiment_by_name(&req.experiment_name).await?;
    Ok(Json(json!({"experiment": experiment})))
}

#[derive(Deserialize)]
pub(crate) struct SearchExperiments {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default)]
    view_type: Option<String>,
}

pub(crate) async fn search_experiments(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<SearchExperiments>,
) -> ApiResult<Paged<Experiment>> {
    let view = view_type(req.view_type)?;
    let page = store
        .search_experiments(
            view,
            req.filter.as_deref(),
            req.max_results,
            &req.order_by,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(paged("experiments", page))
}

#[derive(Deserialize)]
pub(crate) struct UpdateExperiment {
    experiment_id: String,
    new_name: String,
}

pub(crate) async fn update_experiment(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<UpdateExperiment>,
) -> Reply {
    store.update_experiment(&req.experiment_id, &req.new_name).await?;
    Ok(empty())
}

pub(crate) async fn delete_experiment(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ExperimentRef>,
) -> Reply {
    store.set_experiment_lifecycle(&req.experiment_id, "deleted").await?;
    Ok(empty())
}

pub(crate) async fn restore_experiment(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ExperimentRef>,
) -> Reply {
    store.set_experiment_lifecycle(&req.experiment_id, "active").await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct ExperimentTag {
    experiment_id: String,
    key: String,
    #[serde(default)]
    value: String,
}

pub(crate) async fn set_experiment_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ExperimentTag>,
) -> Reply {
    store.set_experiment_tag(&req.experiment_id, &Tag { key: req.key, value: req.value }).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct CreateRun {
    #[serde(default)]
    experiment_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// The run's `user_id` is the signed-in user, else what the client says.
pub(crate) async fn create_run(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<CreateRun>,
) -> Reply {
    let experiment = req.experiment_id.unwrap_or_else(|| "0".into());
    let run = store
        .create_run(
            &experiment,
            &actor.user_id(req.user_id.as_deref()),
            req.run_name.as_deref(),
            req.start_time,
            &req.tags,
        )
        .await?;
    Ok(Json(json!({"run": run})))
}

pub(crate) async fn get_run(State(store): State<Arc<SqlStore>>, Message(req): Message<RunRef>) -> Reply {
    let run = store.get_run(req.id()?).await?;
    Ok(Json(json!({"run": run})))
}

#[derive(Deserialize)]
pub(crate) struct UpdateRun {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

pub(crate) async fn update_run(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<UpdateRun>,
) -> Reply {
    let info =
        store.update_run(req.run.id()?, req.status.as_deref(), req.end_time, req.run_name.as_deref()).await?;
    Ok(Json(json!({"run_info": info})))
}

pub(crate) async fn delete_run(State(store): State<Arc<SqlStore>>, Message(req): Message<RunRef>) -> Reply {
    store.set_run_lifecycle(req.id()?, "deleted").await?;
    Ok(empty())
}

pub(crate) async fn restore_run(State(store): State<Arc<SqlStore>>, Message(req): Message<RunRef>) -> Reply {
    store.set_run_lifecycle(req.id()?, "active").await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct SearchRuns {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    run_view_type: Option<String>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search_runs(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<SearchRuns>,
) -> ApiResult<Paged<Run>> {
    let view = view_type(req.run_view_type)?;
    let page = store
        .search_runs(
            &req.experiment_ids,
            req.filter.as_deref(),
            view,
            req.max_results,
            &req.order_by,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(paged("runs", page))
}

#[derive(Deserialize)]
pub(crate) struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    key: String,
    #[serde(deserialize_with = "lenient::f64")]
    value: f64,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
}

pub(crate) async fn log_metric(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<LogMetric>,
) -> Reply {
    let metric = Metric {
        key: req.key,
        value: req.value,
        timestamp: req.timestamp.unwrap_or_else(now_ms),
        step: req.step.unwrap_or(0),
    };
    store.log_metric(req.run.id()?, &metric).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct KeyValue {
    #[serde(flatten)]
    run: RunRef,
    key: String,
    #[serde(default)]
    value: String,
}

pub(crate) async fn log_param(State(store): State<Arc<SqlStore>>, Message(req): Message<KeyValue>) -> Reply {
    store.log_param(req.run.id()?, &Param { key: req.key, value: req.value }).await?;
    Ok(empty())
}

pub(crate) async fn set_tag(State(store): State<Arc<SqlStore>>, Message(req): Message<KeyValue>) -> Reply {
    store.set_tag(req.run.id()?, &Tag { key: req.key, value: req.value }).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct DeleteTag {
    #[serde(flatten)]
    run: RunRef,
    key: String,
}

pub(crate) async fn delete_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<DeleteTag>,
) -> Reply {
    store.delete_tag(req.run.id()?, &req.key).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct BatchMetric {
    key: String,
    #[serde(deserialize_with = "lenient::f64")]
    value: f64,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
}

#[derive(Deserialize)]
pub(crate) struct LogBatch {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    metrics: Vec<BatchMetric>,
    #[serde(default)]
    params: Vec<Param>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn log_batch(State(store): State<Arc<SqlStore>>, Message(req): Message<LogBatch>) -> Reply {
    let now = now_ms();
    let metrics: Vec<Metric> = req
        .metrics
        .into_iter()
        .map(|m| Metric {
            key: m.key,
            value: m.value,
            timestamp: m.timestamp.unwrap_or(now),
            step: m.step.unwrap_or(0),
        })
        .collect();
    store.log_batch(req.run.id()?, &metrics, &req.params, &req.tags).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct LogInputs {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    datasets: Vec<DatasetInput>,
}

pub(crate) async fn log_inputs(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<LogInputs>,
) -> Reply {
    store.log_inputs(req.run.id()?, &req.datasets).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct LogModel {
    #[serde(flatten)]
    run: RunRef,
    model_json: String,
}

/// MLflow 2.x clients report each model `log_model` uploaded here.
pub(crate) async fn log_model(State(store): State<Arc<SqlStore>>, Message(req): Message<LogModel>) -> Reply {
    let model: Value = serde_json::from_str(&req.model_json)
        .map_err(|e| ApiError::invalid(format!("model_json is not valid JSON: {e}")))?;
    store.record_logged_model(req.run.id()?, &model).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct MetricHistory {
    #[serde(flatten)]
    run: RunRef,
    metric_key: String,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn get_metric_history(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<MetricHistory>,
) -> ApiResult<Paged<Metric>> {
    let page = store
        .get_metric_history(req.run.id()?, &req.metric_key, req.max_results, req.page_token.as_deref())
        .await?;
    Ok(paged("metrics", page))
}
