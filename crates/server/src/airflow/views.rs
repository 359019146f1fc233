//! Airflow's JSON views of DAGs, DAG runs and task instances, written
//! from retrain's pipelines, runs and task instances. Times are RFC 3339
//! in UTC with microseconds, durations in seconds.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use retrain_flow::pipeline::Pipeline;
use retrain_flow::project::Project;
use retrain_flow::state::{PipelineRun, TaskInstance, TaskState};
use serde_json::{Value, json};

/// A DAG: `pipeline` of `project`, paused when its name is in `paused`.
pub(crate) fn dag_json(project: &Project, pipeline: &Pipeline, paused: &BTreeSet<String>) -> Value {
    let file = project.root.join(&pipeline.file);
    let relative = file.strip_prefix(&project.root).unwrap_or(&pipeline.file);
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

/// `at` as Airflow writes times.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn timestamp_ms(ms: Option<i64>) -> Option<String> {
    ms.and_then(DateTime::from_timestamp_millis).map(timestamp)
}

fn duration_s(start: Option<i64>, end: Option<i64>) -> Option<f64> {
    Some((end? - start?) as f64 / 1000.0)
}

/// A DAG run.
pub(crate) fn run_json(run: &PipelineRun) -> Value {
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

/// A task instance of `run`; `operator` is its task's kind, when the
/// pipeline file still loads.
pub(crate) fn task_instance_json(run: &PipelineRun, ti: &TaskInstance, operator: Option<&str>) -> Value {
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
