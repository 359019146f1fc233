//! The pipelines' pages: the list with schedules and latest runs, each
//! pipeline's grid and task graph, a run, and a task instance's tries
//! and logs; and the actions on them (trigger, pause, clear, mark).
//!
//! Each page has its module; this one holds what they share: finding the
//! pipeline, run and task an address names (a page naming what is
//! missing when one is not there), the addresses pages link to, and how
//! a refused intervention is answered.

mod actions;
mod graph;
mod grid;
mod list;
mod run;
mod task;
mod trigger;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use retrain_flow::intervene::InterventionError;
use retrain_flow::pipeline::Pipeline;
use retrain_flow::project::ProjectError;
use retrain_flow::state::{PipelineRun, TaskInstance};
use retrain_registry::Role;
use serde::Serialize;

use super::overview::store_failure;
use super::render::{duration, error_page};
use super::{Ui, encode};
use crate::airflow::PipelineApi;
use crate::routes::{GET, POST, Routes};

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("pipelines/macros.html", include_str!("../templates/pipelines/macros.html")),
    ("pipelines/list.html", include_str!("../templates/pipelines/list.html")),
    ("pipelines/grid.html", include_str!("../templates/pipelines/grid.html")),
    ("pipelines/run.html", include_str!("../templates/pipelines/run.html")),
    ("pipelines/task.html", include_str!("../templates/pipelines/task.html")),
    ("pipelines/clear.html", include_str!("../templates/pipelines/clear.html")),
];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    use Role::{Editor, Viewer};
    Routes::new()
        .to(GET, "/pipelines", Viewer, list::list)
        .to(GET, "/pipelines/{name}", Viewer, grid::grid)
        .to(POST, "/pipelines/{name}/trigger", Editor, trigger::trigger)
        .to(POST, "/pipelines/{name}/pause", Editor, trigger::pause)
        .to(GET, "/pipelines/{name}/runs/{run_id}", Viewer, run::run)
        .to(GET, "/pipelines/{name}/runs/{run_id}/clear", Viewer, actions::confirm_clear)
        .to(POST, "/pipelines/{name}/runs/{run_id}/clear", Editor, actions::clear)
        .to(POST, "/pipelines/{name}/runs/{run_id}/mark", Editor, actions::mark_run)
        .to(GET, "/pipelines/{name}/runs/{run_id}/tasks/{task}", Viewer, task::task)
        .to(GET, "/pipelines/{name}/runs/{run_id}/tasks/{task}/log", Viewer, task::log)
        .to(POST, "/pipelines/{name}/runs/{run_id}/tasks/{task}/mark", Editor, actions::mark_task)
}

/// What a page answers instead of itself: an error page, or a redirect.
type Page<T> = Result<T, Box<Response>>;

/// The scheduler's pipelines, or a page saying this server runs none.
fn pipelines(ui: &Ui) -> Page<&Arc<PipelineApi>> {
    ui.pipelines.as_ref().ok_or_else(|| {
        error_page(StatusCode::NOT_FOUND, "This server runs no pipelines: start them with `retrain up`.")
            .into()
    })
}

/// The pipeline `name`, or a page naming what is wrong with it.
fn pipeline(api: &PipelineApi, name: &str) -> Page<Pipeline> {
    api.project().pipeline(name).map_err(|e| {
        Box::new(match e {
            ProjectError::UnknownPipeline { .. } => {
                error_page(StatusCode::NOT_FOUND, &format!("There is no pipeline named '{name}'."))
            }
            other => {
                error_page(StatusCode::BAD_REQUEST, &format!("Pipeline '{name}' does not load: {other}"))
            }
        })
    })
}

/// The run `run_id` of `pipeline`, or a page saying it has none.
async fn pipeline_run(api: &PipelineApi, pipeline: &str, run_id: &str) -> Page<PipelineRun> {
    match api.state().get_run(pipeline, run_id).await {
        Ok(Some(run)) => Ok(run),
        Ok(None) => {
            Err(error_page(StatusCode::NOT_FOUND, &format!("Pipeline '{pipeline}' has no run '{run_id}'."))
                .into())
        }
        Err(e) => Err(store_failure(&e).into()),
    }
}

/// A pipeline's page.
fn pipeline_href(pipeline: &str) -> String {
    format!("/pipelines/{}", encode(pipeline))
}

/// A run's page.
fn run_href(pipeline: &str, run_id: &str) -> String {
    format!("{}/runs/{}", pipeline_href(pipeline), encode(run_id))
}

/// A task instance's page.
pub(super) fn task_href(pipeline: &str, run_id: &str, task: &str) -> String {
    format!("{}/tasks/{}", run_href(pipeline, run_id), encode(task))
}

/// A task instance as tables and titles show it.
#[derive(Serialize)]
struct InstanceView {
    task: String,
    /// Airflow's state name; `none` while it waits for its upstream.
    state: String,
    try_number: u32,
    max_tries: u32,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration: String,
    message: String,
    href: String,
}

impl InstanceView {
    fn new(ti: &TaskInstance) -> InstanceView {
        InstanceView {
            task: ti.task.clone(),
            state: ti.state.as_str().to_owned(),
            try_number: ti.try_number,
            max_tries: ti.max_tries,
            started_at: ti.started_at,
            ended_at: ti.ended_at,
            duration: duration(span(ti.started_at, ti.ended_at)),
            message: ti.message.clone().unwrap_or_default(),
            href: task_href(&ti.pipeline, &ti.run_id, &ti.task),
        }
    }
}

/// How long from `start` to `end` (now, while it lasts), in ms.
fn span(start: Option<i64>, end: Option<i64>) -> Option<i64> {
    Some(end.unwrap_or_else(retrain_registry::now_ms) - start?)
}

/// A run as lists and titles show it.
#[derive(Serialize)]
struct RunView {
    run_id: String,
    state: String,
    run_type: String,
    interval: String,
    created_at: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration: String,
    href: String,
}

impl RunView {
    fn new(run: &PipelineRun) -> RunView {
        RunView {
            run_id: run.run_id.clone(),
            state: run.state.to_string(),
            run_type: run.run_type.to_string(),
            interval: interval_text(run),
            created_at: run.created_at,
            started_at: run.started_at,
            ended_at: run.ended_at,
            duration: duration(span(run.started_at, run.ended_at)),
            href: run_href(&run.pipeline, &run.run_id),
        }
    }
}

/// A run's data interval, `2026-11-01 00:00 → 2026-11-02 00:00`.
fn interval_text(run: &PipelineRun) -> String {
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    if run.interval_start == run.interval_end {
        return at(run.interval_start);
    }
    format!("{} → {}", at(run.interval_start), at(run.interval_end))
}

/// A refused intervention as a page: 404 for what is not there, 409 for
/// a run or task that is still running.
fn refused(e: InterventionError) -> Response {
    match e {
        InterventionError::UnknownRun { .. } | InterventionError::UnknownTask { .. } => {
            error_page(StatusCode::NOT_FOUND, &format!("{}.", capitalized(&e.to_string())))
        }
        InterventionError::RunActive { .. } | InterventionError::TaskActive { .. } => {
            error_page(StatusCode::CONFLICT, &format!("{}.", capitalized(&e.to_string())))
        }
        InterventionError::Store(e) => store_failure(&e),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// After an action: back to `href`.
fn back_to(href: &str) -> Response {
    Redirect::to(href).into_response()
}

/// A query or form the page cannot read: 400 saying why.
fn bad_request(what: &str, why: impl std::fmt::Display) -> Response {
    error_page(StatusCode::BAD_REQUEST, &format!("{what}: {why}"))
}
