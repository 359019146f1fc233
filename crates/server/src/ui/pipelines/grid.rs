//! `/pipelines/{name}`: one pipeline. Its grid (tasks down, runs across,
//! oldest on the left as in Airflow, each cell a task instance coloured
//! by its state), paged over runs by their bounds (`?runs=25&before=ID`,
//! `after=ID` back), so a pipeline with thousands of runs reads only the
//! page's runs and their task instances; its task graph coloured by one
//! run (`?run=ID`, the newest shown by default); the page's finished runs'
//! durations as a chart; and, for editors, the pause toggle and the
//! trigger form built from the pipeline's `params`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::pipeline::Pipeline;
use retrain_flow::state::{PipelineRun, RunState, TaskInstance};
use retrain_flow::store::RunCursor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::chart::Chart;
use super::super::overview::store_failure;
use super::super::render::{duration, render_with_status};
use super::super::{Ui, Viewer, page_context};
use super::graph::{self, NodeState};
use super::{Page, RunView, bad_request, pipeline, pipeline_href, pipeline_run, pipelines, span, task_href};
use crate::airflow::PipelineApi;

/// Runs a grid page shows unless `?runs=` says otherwise, and the most.
const DEFAULT_RUNS: i64 = 25;
const MAX_RUNS: i64 = 100;

/// The page's state in its address.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GridQuery {
    /// Runs per page.
    runs: Option<i64>,
    /// Show the runs older than this one.
    before: Option<String>,
    /// Show the runs newer than this one.
    after: Option<String>,
    /// The run the graph is coloured by.
    run: Option<String>,
}

/// The trigger form as it is drawn: each param's field with its value,
/// and what was wrong with the last try to send it.
#[derive(Debug, Default, Serialize)]
pub(super) struct TriggerForm {
    pub(super) params: Vec<ParamField>,
    pub(super) conf: String,
    pub(super) logical_date: String,
    pub(super) error: Option<String>,
}

/// One param of the trigger form.
#[derive(Debug, Serialize)]
pub(super) struct ParamField {
    pub(super) name: String,
    /// The value as text (a JSON value's text for lists and mappings).
    pub(super) value: String,
    /// How it is typed: `text`, `number`, `boolean` or `json`.
    pub(super) kind: &'static str,
}

impl TriggerForm {
    /// The form with each param's default.
    pub(super) fn defaults(pipeline: &Pipeline) -> TriggerForm {
        let params = pipeline
            .params
            .iter()
            .map(|(name, value)| ParamField {
                name: name.clone(),
                value: param_text(value),
                kind: param_kind(value),
            })
            .collect();
        TriggerForm { params, ..TriggerForm::default() }
    }
}

/// How a param whose default is `value` is typed in the form.
pub(super) fn param_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "text",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        _ => "json",
    }
}

/// A param's value as its form field holds it.
pub(super) fn param_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[derive(Serialize)]
struct Cell {
    state: String,
    title: String,
    href: String,
}

#[derive(Serialize)]
struct TaskRow {
    name: String,
    kind: String,
    /// One per run shown, oldest first; `None` where the run has no
    /// instance of the task (not started yet, or the task is newer).
    cells: Vec<Option<Cell>>,
}

/// `GET /pipelines/{name}`.
pub(super) async fn grid(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    query: Result<Query<GridQuery>, QueryRejection>,
) -> Response {
    let page = async {
        let Query(query) =
            query.map_err(|e| bad_request("This page's address is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let form = TriggerForm::defaults(&pipeline);
        Ok(grid_page(api, &viewer, &pipeline, &query, form, StatusCode::OK).await)
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// The pipeline's page with `form` as its trigger form, answered with
/// `status` (422 when the form comes back with what was wrong).
pub(super) async fn grid_page(
    api: &PipelineApi,
    viewer: &Viewer,
    pipeline: &Pipeline,
    query: &GridQuery,
    form: TriggerForm,
    status: StatusCode,
) -> Response {
    let page = async {
        let limit = query.runs.unwrap_or(DEFAULT_RUNS);
        if !(1..=MAX_RUNS).contains(&limit) {
            return Err(bad_request("runs", format!("a page shows 1 to {MAX_RUNS} runs, not {limit}")).into());
        }
        let (runs, newer, older) = runs_page(api, pipeline, query, limit).await?;
        let run_ids: Vec<String> = runs.iter().map(|r| r.run_id.clone()).collect();
        let instances = api
            .state()
            .task_instances_of_runs(&pipeline.name, &run_ids)
            .await
            .map_err(|e| store_failure(&e))?;
        let selected = match &query.run {
            Some(id) => Some(pipeline_run(api, &pipeline.name, id).await?),
            None => runs.last().cloned(),
        };
        let selected_instances = match &selected {
            Some(run) if !run_ids.contains(&run.run_id) => api
                .state()
                .task_instances(&pipeline.name, &run.run_id)
                .await
                .map_err(|e| store_failure(&e))?,
            Some(run) => instances.iter().filter(|ti| ti.run_id == run.run_id).cloned().collect(),
            None => Vec::new(),
        };
        let graph = graph::svg(pipeline, |task| {
            let ti = selected_instances.iter().find(|ti| ti.task == task);
            NodeState {
                state: ti.map_or("none", |ti| ti.state.as_str()).to_owned(),
                href: ti.map(|ti| task_href(&ti.pipeline, &ti.run_id, &ti.task)),
            }
        });
        let total = api.state().count_runs(&pipeline.name).await.map_err(|e| store_failure(&e))?;
        let paused = api.state().paused().await.map_err(|e| store_failure(&e))?.contains(&pipeline.name);
        let href = pipeline_href(&pipeline.name);
        let keep = |key: &str, id: &str| {
            let mut pairs = vec![(key.to_owned(), id.to_owned())];
            if limit != DEFAULT_RUNS {
                pairs.push(("runs".into(), limit.to_string()));
            }
            if let Some(run) = &query.run {
                pairs.push(("run".into(), run.clone()));
            }
            format!("{href}?{}", serde_html_form::to_string(&pairs).unwrap_or_default())
        };
        let newer_href = newer.map(|id| keep("after", &id));
        let older_href = older.map(|id| keep("before", &id));
        let columns: Vec<RunView> = runs.iter().map(RunView::new).collect();
        let rows = task_rows(pipeline, &runs, &instances);
        let durations = durations_chart(&runs);
        let values = context! {
            name => &pipeline.name,
            href,
            description => &pipeline.description,
            schedule => pipeline.schedule.describe(),
            paused,
            total,
            runs => Serde(columns),
            rows => Serde(rows),
            selected => Serde(selected.as_ref().map(RunView::new)),
            graph,
            durations,
            newer => newer_href,
            older => older_href,
            form => Serde(form),
        };
        let breadcrumb = [("Pipelines", Some("/pipelines")), (pipeline.name.as_str(), None)];
        Ok(render_with_status(
            status,
            "pipelines/grid.html",
            page_context(viewer, "/pipelines", &breadcrumb, values),
        ))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// The page's runs, oldest first, and the runs to page on from: the
/// newest shown when newer ones exist, the oldest shown when older ones do.
async fn runs_page(
    api: &PipelineApi,
    pipeline: &Pipeline,
    query: &GridQuery,
    limit: i64,
) -> Page<(Vec<PipelineRun>, Option<String>, Option<String>)> {
    let bound = match (&query.before, &query.after) {
        (Some(_), Some(_)) => {
            return Err(bad_request("before and after", "give one of them, not both").into());
        }
        (Some(id), None) | (None, Some(id)) => Some(pipeline_run(api, &pipeline.name, id).await?),
        (None, None) => None,
    };
    let cursor = match (&bound, query.after.is_some()) {
        (None, _) => RunCursor::Newest,
        (Some(run), false) => RunCursor::Before(run),
        (Some(run), true) => RunCursor::After(run),
    };
    let mut runs =
        api.state().runs_page(&pipeline.name, cursor, limit + 1).await.map_err(|e| store_failure(&e))?;
    let more = runs.len() as i64 > limit;
    // One more than the page was read to know whether there is more.
    match cursor {
        RunCursor::After(_) if more => {
            runs.remove(0);
        }
        _ => runs.truncate(limit as usize),
    }
    let (has_newer, has_older) = match cursor {
        RunCursor::Newest => (false, more),
        RunCursor::Before(_) => (true, more),
        RunCursor::After(_) => (more, true),
    };
    runs.reverse();
    let newer = has_newer.then(|| runs.last().map(|r| r.run_id.clone())).flatten();
    let older = has_older.then(|| runs.first().map(|r| r.run_id.clone())).flatten();
    Ok((runs, newer, older))
}

/// How long each finished run of the page took, in seconds over when it
/// started, one line per final state so a slow failure stands out.
fn durations_chart(runs: &[PipelineRun]) -> String {
    let mut chart = Chart::new("Run durations").time_x().x_label("started (UTC)").y_label("seconds");
    for (state, label) in [(RunState::Success, "successful runs"), (RunState::Failed, "failed runs")] {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .filter(|run| run.state == state)
            .filter_map(|run| {
                Some((run.started_at? as f64, (run.ended_at? - run.started_at?) as f64 / 1000.0))
            })
            .collect();
        if !points.is_empty() {
            chart = chart.series(label, points);
        }
    }
    chart.svg()
}

fn task_rows(pipeline: &Pipeline, runs: &[PipelineRun], instances: &[TaskInstance]) -> Vec<TaskRow> {
    let by_key: HashMap<(&str, &str), &TaskInstance> =
        instances.iter().map(|ti| ((ti.run_id.as_str(), ti.task.as_str()), ti)).collect();
    pipeline
        .tasks
        .values()
        .map(|task| TaskRow {
            name: task.name.clone(),
            kind: task.kind.clone(),
            cells: runs
                .iter()
                .map(|run| {
                    by_key.get(&(run.run_id.as_str(), task.name.as_str())).map(|ti| Cell {
                        state: ti.state.as_str().to_owned(),
                        title: format!(
                            "{} · {} · try {} · {}",
                            ti.task,
                            ti.state.as_str(),
                            ti.try_number,
                            duration(span(ti.started_at, ti.ended_at))
                        ),
                        href: task_href(&ti.pipeline, &ti.run_id, &ti.task),
                    })
                })
                .collect(),
        })
        .collect()
}
