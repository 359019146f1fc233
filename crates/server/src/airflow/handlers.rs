//! The handlers of Airflow's routes: DAGs (list, get, pause), DAG runs
//! (trigger, list, get), task instances, and the health check.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use retrain_flow::pipeline;
use retrain_flow::state::{PipelineRun, RunOrder};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::PipelineApi;
use super::problem::{Answer, Problem, body};
use super::views::{dag_json, run_json, task_instance_json, timestamp};

/// Airflow's page size when a list request names none, and its largest.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 1000;

pub(crate) async fn health(State(api): State<Arc<PipelineApi>>) -> axum::Json<Value> {
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
pub(crate) struct ListDags {
    limit: Option<i64>,
    offset: Option<i64>,
    paused: Option<bool>,
}

pub(crate) async fn list_dags(
    State(api): State<Arc<PipelineApi>>,
    query: Result<Query<ListDags>, QueryRejection>,
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
    let dags: Vec<Value> = page.map(|p| dag_json(&api.project, p, &paused)).collect();
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

pub(crate) async fn get_dag(State(api): State<Arc<PipelineApi>>, Path(dag_id): Path<String>) -> Answer {
    let pipeline = api.pipeline(&dag_id)?;
    Ok(axum::Json(dag_json(&api.project, &pipeline, &api.paused().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DagPatch {
    is_paused: bool,
}

pub(crate) async fn patch_dag(
    State(api): State<Arc<PipelineApi>>,
    Path(dag_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let patch: DagPatch = body(&bytes)?;
    let pipeline = api.pipeline(&dag_id)?;
    api.state.set_paused(&pipeline.name, patch.is_paused).await.map_err(Problem::store)?;
    api.scheduler.wake();
    Ok(axum::Json(dag_json(&api.project, &pipeline, &api.paused().await?)))
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

pub(crate) async fn trigger(
    State(api): State<Arc<PipelineApi>>,
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
pub(crate) struct ListRuns {
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

pub(crate) async fn list_runs(
    State(api): State<Arc<PipelineApi>>,
    Path(dag_id): Path<String>,
    query: Result<Query<ListRuns>, QueryRejection>,
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

pub(crate) async fn get_run(
    State(api): State<Arc<PipelineApi>>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Answer {
    Ok(axum::Json(run_json(&api.run(&dag_id, &run_id).await?)))
}

pub(crate) async fn list_task_instances(
    State(api): State<Arc<PipelineApi>>,
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
