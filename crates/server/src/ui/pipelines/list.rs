//! `/pipelines`: every pipeline with what it is for, when it runs, its
//! last runs as squares, and — for editors — its pause toggle and a
//! trigger button. Each pipeline costs two small queries (its last runs
//! and its newest scheduled interval), whatever its history.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::pipeline::Pipeline;
use retrain_flow::schedule::Schedule;
use serde::Serialize;

use super::super::overview::store_failure;
use super::super::render::render;
use super::super::{Ui, Viewer, page_context};
use super::{RunView, pipeline_href, pipelines};
use crate::airflow::PipelineApi;

/// Runs of each pipeline shown as squares.
const RUNS_SHOWN: i64 = 25;

#[derive(Serialize)]
struct Row {
    name: String,
    href: String,
    description: String,
    schedule: String,
    paused: bool,
    /// When the scheduler creates the next run, for people.
    next_run: String,
    /// The last runs, oldest first.
    runs: Vec<RunView>,
}

/// `GET /pipelines`.
pub(super) async fn list(State(ui): State<Arc<Ui>>, viewer: Viewer) -> Response {
    let api = match pipelines(&ui) {
        Ok(api) => api,
        Err(page) => return *page,
    };
    let (loaded, errors) = api.project().load_pipelines();
    let rows = match rows(api, loaded).await {
        Ok(rows) => rows,
        Err(e) => return store_failure(&e),
    };
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    render(
        "pipelines/list.html",
        page_context(
            &viewer,
            "/pipelines",
            &[("Pipelines", None)],
            context! { pipelines => Serde(rows), errors },
        ),
    )
}

async fn rows(api: &PipelineApi, mut loaded: Vec<Pipeline>) -> retrain_flow::store::Result<Vec<Row>> {
    loaded.sort_by(|a, b| a.name.cmp(&b.name));
    let paused = api.state().paused().await?;
    let now = Utc::now();
    let mut rows = Vec::with_capacity(loaded.len());
    for pipeline in loaded {
        let mut runs = api.state().recent_runs(&pipeline.name, RUNS_SHOWN).await?;
        runs.reverse();
        let is_paused = paused.contains(&pipeline.name);
        let last_end = api.state().last_interval_end(&pipeline.name).await?;
        rows.push(Row {
            href: pipeline_href(&pipeline.name),
            next_run: next_run(&pipeline, is_paused, last_end, now),
            paused: is_paused,
            schedule: pipeline.schedule.describe(),
            runs: runs.iter().map(RunView::new).collect(),
            description: pipeline.description,
            name: pipeline.name,
        });
    }
    Ok(rows)
}

/// When the scheduler creates the pipeline's next run: at the end of the
/// first interval after the last scheduled one (or after `start_date`).
fn next_run(
    pipeline: &Pipeline,
    paused: bool,
    last_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    if matches!(pipeline.schedule, Schedule::Manual) {
        return "only when triggered".to_owned();
    }
    if paused {
        return "none while paused".to_owned();
    }
    let from = last_end.unwrap_or(pipeline.start_date);
    let Some(interval) = pipeline.schedule.interval_from(from) else {
        return "none: its schedule has ended".to_owned();
    };
    if matches!(pipeline.schedule, Schedule::Once) && last_end.is_some() {
        return "none: it ran once".to_owned();
    }
    if pipeline.end_date.is_some_and(|end| interval.start > end) {
        return "none: past its end_date".to_owned();
    }
    if interval.end <= now {
        return "due now".to_owned();
    }
    interval.end.format("%Y-%m-%d %H:%M UTC").to_string()
}
