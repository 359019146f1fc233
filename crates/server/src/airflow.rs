//! Airflow's REST API (v2, as Airflow 3 serves it), the part that drives
//! pipelines: list and pause them, trigger a run, watch the run and its
//! task instances. A pipeline is a DAG and its runs are DAG runs, so
//! scripts written against Airflow — a `curl` in a CI job, a sensor in
//! another system, an Airflow client — trigger and poll `retrain up`
//! unchanged. Field names, status codes and FastAPI's error shape
//! (`{"detail": …}`, 422 with a list of problems for a bad body) follow
//! Airflow; `logical_date` is the data interval's start, as `ds` is
//! everywhere in retrain (Airflow 2's meaning).
//!
//! A trigger wakes the scheduler through its [`SchedulerHandle`], so the
//! run starts without waiting for the scheduler's next look.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use retrain_flow::pipeline::{self, Pipeline};
use retrain_flow::project::{Project, ProjectError};
use retrain_flow::scheduler::SchedulerHandle;
use retrain_flow::state::{PipelineRun, RunOrder, TaskInstance, TaskState};
use retrain_flow::store::PipelineStore;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Airflow's page size when a list request names none, and its largest.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

/// A scheduler's pipelines over Airflow's REST API.
pub struct PipelineApi {
    project: Project,
    state: PipelineStore,
    /// Runs triggered here are queued for this scheduler.
    owner: String,
    scheduler: Arc<SchedulerHandle>,
}

impl PipelineApi {
    pub fn new(
        project: Project,
        state: PipelineStore,
        owner: &str,
        scheduler: Arc<SchedulerHandle>,
    ) -> PipelineApi {
        PipelineApi { project, state, owner: owner.to_string(), scheduler }
    }

    pub(crate) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/v2/monitor/health", get(health))
            .route("/api/v2/dags", get(list_dags))
            .route("/api/v2/dags/{dag_id}", get(get_dag).patch(patch_dag))
            .route("/api/v2/dags/{dag_id}/dagRuns", get(list_runs).post(trigger))
            .route("/api/v2/dags/{dag_id}/dagRuns/{run_id}", get(get_run))
            .route("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", get(list_task_instances))
            .with_state(self)
    }

    fn pipeline(&self, dag_id: &str) -> Result<Pipeline, Problem> {
        self.project.pipeline(dag_id).map_err(|e| match e {
            ProjectError::UnknownPipeline { .. } => {
                Problem::detail(StatusCode::NOT_FOUND, format!("The Dag with ID: `{dag_id}` was not found"))
            }
            other => Problem::detail(
                StatusCode::BAD_REQUEST,
                format!("pipeline '{dag_id}' does not load: {other}"),
            ),
        })
    }

    async fn run(&self, dag_id: &str, run_id: &str) -> Result<PipelineRun, Problem> {
        self.state.get_run(dag_id, run_id).await.map_err(Problem::store)?.ok_or_else(|| {
            Problem::detail(
                StatusCode::NOT_FOUND,
                format!("The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"),
            )
        })
    }

    async fn paused(&self) -> Result<BTreeSet<String>, Problem> {
        self.state.paused().await.map_err(Problem::store)
    }

    fn dag_json(&self, pipeline: &Pipeline, paused: &BTreeSet<String>) -> Value {
        let file = self.project.root.join(&pipeline.file);
        let relative = file.strip_prefix(&self.project.root).unwrap_or(&pipeline.file);
        json!({
            "dag_id": pipeline.name,
            "dag_display_name": pipeline.name,
            "description": (!pipeline.description.is_empty()).then_some(&pipeline.description),
            "is_paused": paused.contains(&pipeline.name),
            "is_stale": false,
            "has_import_errors": false,
            "fileloc": file.display().to_string(),
            "relative_fileloc": relative.display().to_string(),
            "timetable_summary": pipeline.schedule.describe(),
            "max_active_runs": pipeline.max_active_runs,
            "tags": [],
            "owners": [],
        })
    }
}

/// A failed request, in FastAPI's shape.
struct Problem {
    status: StatusCode,
    detail: Value,
}

impl Problem {
    fn detail(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem { status, detail: Value::String(message.into()) }
    }

    /// 422: what is wrong with the request, and where (`["body", "conf"]`).
    fn invalid(location: &[&str], kind: &str, message: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{"type": kind, "loc": location, "msg": message.into()}]),
        }
    }

    fn store(e: retrain_registry::StoreError) -> Problem {
        tracing::error!("pipeline API: {e}");
        Problem::detail(StatusCode::INTERNAL_SERVER_ERROR, format!("the metadata database failed: {e}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"detail": self.detail}))).into_response()
    }
}

type Answer = Result<axum::Json<Value>, Problem>;

/// Decodes a JSON body, naming the field at fault.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Problem> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::invalid(&["body"], "json_invalid", format!("JSON decode error: {e}")))?;
    if !value.is_object() {
        return Err(Problem::invalid(&["body"], "model_attributes_type", "the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut location = vec!["body"];
        if path != "." {
            location.push(&path);
        }
        Problem::invalid(&location, "value_error", e.inner().to_string())
    })
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn timestamp_ms(ms: Option<i64>) -> Option<String> {
    ms.and_then(DateTime::from_timestamp_millis).map(timestamp)
}

fn duration_s(start: Option<i64>, end: Option<i64>) -> Option<f64> {
    Some((end? - start?) as f64 / 1000.0)
}

fn run_json(run: &PipelineRun) -> Value {
    json!({
        "dag_run_id": run.run_id,
        "dag_id": run.pipeline,
        "dag_display_name": run.pipeline,
        "logical_date": timestamp(run.interval_start),
        "data_interval_start": timestamp(run.interval_start),
        "data_interval_end": timestamp(run.interval_end),
        "run_after": timestamp(run.interval_end),
        "queued_at": timestamp_ms(Some(run.created_at)),
        "start_date": timestamp_ms(run.started_at),
        "end_date": timestamp_ms(run.ended_at),
        "duration": duration_s(run.started_at, run.ended_at),
        "run_type": run.run_type,
        "state": run.state,
        "conf": run.conf,
        "note": null,
    })
}

fn task_instance_json(run: &PipelineRun, ti: &TaskInstance, operator: Option<&str>) -> Value {
    json!({
        "task_id": ti.task,
        "task_display_name": ti.task,
        "dag_id": ti.pipeline,
        "dag_run_id": ti.run_id,
        "map_index": -1,
        "logical_date": timestamp(run.interval_start),
        "run_after": timestamp(run.interval_end),
        "start_date": timestamp_ms(ti.started_at),
        "end_date": timestamp_ms(ti.ended_at),
        "duration": duration_s(ti.started_at, ti.ended_at),
        // Airflow has no state name for an instance waiting on its upstream.
        "state": (ti.state != TaskState::NoState).then_some(ti.state.as_str()),
        "try_number": ti.try_number,
        // Airflow counts retries, retrain counts tries.
        "max_tries": ti.max_tries.saturating_sub(1),
        "operator": operator,
        "pid": ti.pid,
        "pool": "default_pool",
        "pool_slots": 1,
        "note": ti.message,
    })
}

async fn health(AxumState(api): AxumState<Arc<PipelineApi>>) -> axum::Json<Value> {
    let status = |healthy: bool| if healthy { "healthy" } else { "unhealthy" };
    let heartbeat = api.scheduler.last_heartbeat();
    // Airflow's default threshold for a scheduler that stopped going round.
    let scheduler_alive = heartbeat.is_some_and(|at| Utc::now() - at < chrono::Duration::seconds(30));
    axum::Json(json!({
        "metadatabase": {"status": status(api.state.reachable().await)},
        "scheduler": {
            "status": status(scheduler_alive),
            "latest_scheduler_heartbeat": heartbeat.map(timestamp),
        },
    }))
}

/// Airflow's `GET /dags` query, the parameters that page and filter by
/// state; like FastAPI, others are ignored.
#[derive(Deserialize)]
struct ListDags {
    limit: Option<i64>,
    offset: Option<i64>,
    paused: Option<bool>,
}

async fn list_dags(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    query: Result<Query<ListDags>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(|e| Problem::invalid(&["query"], "value_error", e.body_text()))?;
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    let (mut pipelines, _) = api.project.load_pipelines();
    let paused = api.paused().await?;
    if let Some(wanted) = query.paused {
        pipelines.retain(|p| paused.contains(&p.name) == wanted);
    }
    // Airflow lists DAGs by id.
    pipelines.sort_by(|a, b| a.name.cmp(&b.name));
    let page = pipelines.iter().skip(offset as usize).take(limit as usize);
    let dags: Vec<Value> = page.map(|p| api.dag_json(p, &paused)).collect();
    Ok(axum::Json(json!({"dags": dags, "total_entries": pipelines.len()})))
}

/// Airflow's `limit` and `offset` query parameters, checked.
fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), Problem> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(0..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::invalid(
            &["query", "limit"],
            "value_error",
            format!("limit is 0 to {MAX_LIMIT}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(Problem::invalid(&["query", "offset"], "value_error", "offset is 0 or more"));
    }
    Ok((limit, offset))
}

async fn get_dag(AxumState(api): AxumState<Arc<PipelineApi>>, Path(dag_id): Path<String>) -> Answer {
    let pipeline = api.pipeline(&dag_id)?;
    Ok(axum::Json(api.dag_json(&pipeline, &api.paused().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DagPatch {
    is_paused: bool,
}

async fn patch_dag(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    Path(dag_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let patch: DagPatch = body(&bytes)?;
    let pipeline = api.pipeline(&dag_id)?;
    api.state.set_paused(&pipeline.name, patch.is_paused).await.map_err(Problem::store)?;
    api.scheduler.wake();
    Ok(axum::Json(api.dag_json(&pipeline, &api.paused().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    dag_run_id: Option<String>,
    /// The data interval's start; `null` or absent: the last complete
    /// interval before now.
    logical_date: Option<String>,
    conf: Option<Map<String, Value>>,
}

/// Airflow's rule for run ids, which also keeps them usable in URLs and file names.
fn valid_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 250 && id.chars().all(|c| c.is_ascii_alphanumeric() || "_.~:+-".contains(c))
}

async fn trigger(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    Path(dag_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let request: TriggerBody = body(&bytes)?;
    let pipeline = api.pipeline(&dag_id)?;
    let logical_date =
        request.logical_date.as_deref().map(pipeline::parse_date).transpose().map_err(|m| {
            Problem::invalid(&["body", "logical_date"], "datetime_from_date_parsing", m.to_string())
        })?;
    let mut run = PipelineRun::manual(
        &pipeline,
        logical_date,
        request.conf.unwrap_or_default(),
        &api.owner,
        Utc::now(),
    );
    if let Some(id) = request.dag_run_id {
        if !valid_run_id(&id) {
            return Err(Problem::invalid(
                &["body", "dag_run_id"],
                "string_pattern_mismatch",
                "a run id is 1 to 250 letters, digits or _.~:+-",
            ));
        }
        run.run_id = id;
    }
    if !api.state.insert_run(&run).await.map_err(Problem::store)? {
        return Err(Problem::detail(
            StatusCode::CONFLICT,
            format!("A DAG Run already exists for DAG {} with run id {}", run.pipeline, run.run_id),
        ));
    }
    api.scheduler.wake();
    // As stored (times to the millisecond), and maybe already started.
    Ok(axum::Json(run_json(&api.run(&run.pipeline, &run.run_id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRuns {
    limit: Option<i64>,
    offset: Option<i64>,
    order_by: Option<String>,
}

/// Airflow's `order_by`: a field name, `-` first for descending.
fn run_order(order_by: Option<&str>) -> Result<(RunOrder, bool), Problem> {
    let text = order_by.unwrap_or("id");
    let (field, descending) = match text.strip_prefix('-') {
        Some(field) => (field, true),
        None => (text, false),
    };
    let order = match field {
        "id" => RunOrder::Created,
        "logical_date" | "data_interval_start" => RunOrder::IntervalStart,
        "run_after" | "data_interval_end" => RunOrder::IntervalEnd,
        "start_date" => RunOrder::Started,
        "end_date" => RunOrder::Ended,
        "dag_run_id" | "run_id" => RunOrder::RunId,
        "state" => RunOrder::State,
        _ => {
            return Err(Problem::detail(
                StatusCode::BAD_REQUEST,
                format!(
                    "Ordering with '{field}' is disallowed or the attribute does not exist on the model; \
                     use id, logical_date, run_after, start_date, end_date, dag_run_id or state"
                ),
            ));
        }
    };
    Ok((order, descending))
}

async fn list_runs(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    Path(dag_id): Path<String>,
    query: Result<Query<ListRuns>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(|e| Problem::invalid(&["query"], "value_error", e.body_text()))?;
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    let (order, descending) = run_order(query.order_by.as_deref())?;
    let runs = api.state.runs(&dag_id, order, descending, limit, offset).await.map_err(Problem::store)?;
    let total = api.state.count_runs(&dag_id).await.map_err(Problem::store)?;
    if total == 0 {
        // Like Airflow, an unknown DAG is a 404, a known one without runs an empty page.
        api.pipeline(&dag_id)?;
    }
    Ok(axum::Json(json!({"dag_runs": runs.iter().map(run_json).collect::<Vec<_>>(), "total_entries": total})))
}

async fn get_run(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Answer {
    Ok(axum::Json(run_json(&api.run(&dag_id, &run_id).await?)))
}

async fn list_task_instances(
    AxumState(api): AxumState<Arc<PipelineApi>>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Answer {
    let run = api.run(&dag_id, &run_id).await?;
    let instances = api.state.task_instances(&dag_id, &run_id).await.map_err(Problem::store)?;
    // Operator names come from the pipeline file, if it still loads.
    let pipeline = api.project.pipeline(&dag_id).ok();
    let operator = |task: &str| pipeline.as_ref().and_then(|p| p.tasks.get(task)).map(|t| t.kind.as_str());
    let task_instances: Vec<Value> =
        instances.iter().map(|ti| task_instance_json(&run, ti, operator(&ti.task))).collect();
    Ok(axum::Json(json!({"total_entries": task_instances.len(), "task_instances": task_instances})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_follow_airflows_rule() {
        assert!(valid_run_id("manual__2026-11-22T10:00:00+00:00"));
        assert!(valid_run_id("nightly-7"));
        for bad in ["", "a/b", "a b", "ü", &"x".repeat(251)] {
            assert!(!valid_run_id(bad), "{bad}");
        }
    }

    #[test]
    fn order_by_takes_airflows_fields_and_a_minus() {
        assert_eq!(run_order(None).ok().map(|o| o.0), Some(RunOrder::Created));
        assert_eq!(run_order(Some("-logical_date")).ok(), Some((RunOrder::IntervalStart, true)));
        assert_eq!(run_order(Some("start_date")).ok(), Some((RunOrder::Started, false)));
        let error = run_order(Some("conf; DROP TABLE pipeline_runs")).expect_err("refused");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
    }
}
