//! `/pipelines/{name}/runs/{run_id}/tasks/{task}`: one task instance —
//! its tries, the arguments it renders to, what it returned, and the log
//! of one try (`?try=N`, the latest by default) as plain text, each line
//! with an anchor (`#L12`) — and `…/log`, the log itself: the whole file
//! to download, or with `offset=BYTES` only what was written since, for
//! the page's live tail while the try runs.
//!
//! The store keeps the latest try's details; earlier tries are known by
//! their log files, which stay when a task is retried or cleared.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::executor::log_path;
use retrain_flow::state::{PipelineRun, TaskInstance, TaskState};
use serde::{Deserialize, Serialize};

use super::super::error_page;
use super::super::overview::store_failure;
use super::super::render::{duration, render};
use super::super::{Ui, Viewer, page_context};
use super::{Page, bad_request, pipeline, pipeline_href, pipeline_run, pipelines, run_href, span, task_href};
use crate::airflow::PipelineApi;

/// The most of a log the page shows, its end; the download has it all.
const LOG_SHOWN_BYTES: usize = 1 << 20;

/// Whether the try whose log was asked for is still running: `true` or `false`.
const RUNNING_HEADER: &str = "x-try-running";
/// Where the bytes answered end in the log: the offset to ask from next.
const OFFSET_HEADER: &str = "x-log-offset";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskQuery {
    #[serde(rename = "try")]
    try_number: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogQuery {
    #[serde(rename = "try")]
    try_number: Option<u32>,
    offset: Option<u64>,
}

/// One try as the page lists it.
#[derive(Serialize)]
struct Try {
    number: u32,
    /// The state the store has for the latest try; earlier tries' ended
    /// before it (failed, or were cleared).
    state: Option<String>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration: String,
    exit_code: Option<i64>,
    log_bytes: Option<u64>,
    href: String,
}

/// The task instance an address names and where its logs are.
struct Located {
    run: PipelineRun,
    ti: TaskInstance,
    logs: PathBuf,
}

impl Located {
    fn log(&self, try_number: u32) -> PathBuf {
        log_path(&self.logs, &self.ti.pipeline, &self.ti.run_id, &self.ti.task, try_number)
    }

    /// How many tries it has had: the store's count, or more when log
    /// files say so.
    fn tries(&self) -> u32 {
        let mut tries = self.ti.try_number;
        while self.log(tries + 1).is_file() {
            tries += 1;
        }
        tries
    }

    /// Whether try `n` is running now.
    fn running(&self, n: u32) -> bool {
        n == self.ti.try_number && matches!(self.ti.state, TaskState::Running | TaskState::Queued)
    }

    /// Try `asked` (the latest when none), or a page saying there is none.
    fn chosen_try(&self, asked: Option<u32>) -> Page<u32> {
        let tries = self.tries();
        let n = asked.unwrap_or(tries);
        if asked.is_some() && !(1..=tries).contains(&n) {
            return Err(error_page(
                StatusCode::NOT_FOUND,
                &format!(
                    "Task '{}' of run '{}' has no try {n}; it has had {tries}.",
                    self.ti.task, self.ti.run_id
                ),
            )
            .into());
        }
        Ok(n)
    }
}

async fn locate(api: &PipelineApi, name: &str, run_id: &str, task: &str) -> Page<Located> {
    let pipeline = pipeline(api, name)?;
    let run = pipeline_run(api, &pipeline.name, run_id).await?;
    let instances =
        api.state().task_instances(&pipeline.name, &run.run_id).await.map_err(|e| store_failure(&e))?;
    let ti = instances.into_iter().find(|ti| ti.task == task).ok_or_else(|| {
        let why = if pipeline.tasks.contains_key(task) { "yet" } else { "(the pipeline has no such task)" };
        error_page(
            StatusCode::NOT_FOUND,
            &format!("Run '{}' has no task instance '{task}' {why}.", run.run_id),
        )
    })?;
    Ok(Located { run, ti, logs: api.project().logs_dir() })
}

/// `GET /pipelines/{name}/runs/{run_id}/tasks/{task}`.
pub(super) async fn task(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id, task)): Path<(String, String, String)>,
    query: Result<Query<TaskQuery>, QueryRejection>,
) -> Response {
    let page = async {
        let Query(query) =
            query.map_err(|e| bad_request("This page's address is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let located = locate(api, &name, &run_id, &task).await?;
        let chosen = located.chosen_try(query.try_number)?;
        let (ti, run) = (&located.ti, &located.run);
        let href = task_href(&ti.pipeline, &ti.run_id, &ti.task);
        let tries: Vec<Try> = (1..=located.tries()).rev().map(|n| try_view(&located, n, &href)).collect();
        let definition = api.project().pipeline(&ti.pipeline).ok();
        let task_definition = definition.as_ref().and_then(|p| p.tasks.get(&ti.task));
        let arguments = match (&definition, task_definition) {
            (Some(pipeline), Some(task)) => {
                match retrain_flow::task::rendered_arguments(api.state(), pipeline, task, run).await {
                    Ok(value) => Ok(serde_json::to_string_pretty(&value).unwrap_or_default()),
                    Err(e) => Err(format!("They do not render now: {e}")),
                }
            }
            _ => Err("The pipeline no longer has this task.".to_owned()),
        };
        let (arguments, arguments_error) = match arguments {
            Ok(text) => (Some(text), None),
            Err(why) => (None, Some(why)),
        };
        let log = if chosen == 0 { None } else { Some(read_log(&located.log(chosen))) };
        let live = chosen > 0 && located.running(chosen);
        let kind = task_definition.map(|t| t.kind.clone()).unwrap_or_default();
        let values = context! {
            pipeline => &ti.pipeline,
            run_id => &ti.run_id,
            run_href => run_href(&ti.pipeline, &ti.run_id),
            task => &ti.task,
            kind,
            href,
            state => ti.state.as_str(),
            finished => ti.state.is_finished(),
            message => ti.message.clone().unwrap_or_default(),
            try_number => ti.try_number,
            max_tries => ti.max_tries,
            tries => Serde(tries),
            chosen,
            arguments,
            arguments_error,
            output => ti.output.as_ref().map(|o| serde_json::to_string_pretty(o).unwrap_or_default()),
            log => Serde(log),
            live,
        };
        let (pipeline_link, run_link) = (pipeline_href(&ti.pipeline), run_href(&ti.pipeline, &ti.run_id));
        let breadcrumb = [
            ("Pipelines", Some("/pipelines")),
            (ti.pipeline.as_str(), Some(pipeline_link.as_str())),
            (ti.run_id.as_str(), Some(run_link.as_str())),
            (ti.task.as_str(), None),
        ];
        Ok(render("pipelines/task.html", page_context(&viewer, "/pipelines", &breadcrumb, values)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

fn try_view(located: &Located, n: u32, href: &str) -> Try {
    let log = std::fs::metadata(located.log(n)).ok();
    let ti = &located.ti;
    let latest = n == ti.try_number;
    let (started_at, ended_at) = if latest {
        (ti.started_at, ti.ended_at)
    } else {
        let written = log.as_ref().and_then(|m| m.modified().ok());
        let ended =
            written.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as i64);
        (None, ended)
    };
    Try {
        number: n,
        state: latest.then(|| ti.state.as_str().to_owned()),
        started_at,
        ended_at,
        duration: duration(span(started_at, ended_at).filter(|_| started_at.is_some())),
        exit_code: if latest { ti.exit_code } else { None },
        log_bytes: log.map(|m| m.len()),
        href: format!("{href}?try={n}"),
    }
}

/// A log as the page shows it.
#[derive(Serialize)]
struct Log {
    /// Its lines and their numbers (from 1).
    lines: Vec<(usize, String)>,
    /// Its size in bytes: where a live tail asks from.
    bytes: usize,
    /// Lines left out at the start, the page showing only the end.
    skipped_lines: usize,
    /// The log has no file (the try wrote nothing yet).
    missing: bool,
}

fn read_log(path: &std::path::Path) -> Log {
    let Ok(bytes) = std::fs::read(path) else {
        return Log { lines: Vec::new(), bytes: 0, skipped_lines: 0, missing: true };
    };
    let mut start = bytes.len().saturating_sub(LOG_SHOWN_BYTES);
    if start > 0 {
        // From the start of a line.
        start += bytes[start..].iter().position(|b| *b == b'\n').map_or(0, |p| p + 1);
    }
    let skipped_lines = bytecount(&bytes[..start]);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines = text.lines().enumerate().map(|(i, line)| (skipped_lines + i + 1, line.to_owned())).collect();
    Log { lines, bytes: bytes.len(), skipped_lines, missing: false }
}

fn bytecount(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

/// `GET …/tasks/{task}/log?try=N`: the try's log as a file to download;
/// with `offset=BYTES`, only what follows that offset (whole lines while
/// the try runs), saying in headers whether the try still runs and
/// where to ask from next.
pub(super) async fn log(
    State(ui): State<Arc<Ui>>,
    Path((name, run_id, task)): Path<(String, String, String)>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Response {
    let page = async {
        let Query(query) =
            query.map_err(|e| bad_request("This log's address is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let located = locate(api, &name, &run_id, &task).await?;
        let chosen = located.chosen_try(query.try_number)?;
        let running = located.running(chosen);
        let bytes = if chosen == 0 { None } else { std::fs::read(located.log(chosen)).ok() };
        let text_plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
        let Some(offset) = query.offset else {
            let Some(bytes) = bytes else {
                return Err(error_page(
                    StatusCode::NOT_FOUND,
                    &format!("Try {chosen} of task '{task}' has written no log yet."),
                )
                .into());
            };
            let file = format!(
                "attachment; filename=\"{}-{}-try{chosen}.log\"",
                located.ti.pipeline, located.ti.task
            );
            return Ok((text_plain, [(header::CONTENT_DISPOSITION, file)], bytes).into_response());
        };
        let bytes = bytes.unwrap_or_default();
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| bytes.get(o..)) else {
            return Err(bad_request(
                "offset",
                format!("{offset} is past the log's end ({} bytes)", bytes.len()),
            )
            .into());
        };
        // While the try writes, a line may be half written: answer whole lines.
        let answered =
            if running { rest.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) } else { rest.len() };
        let next = offset + answered as u64;
        let headers = [(RUNNING_HEADER, running.to_string()), (OFFSET_HEADER, next.to_string())];
        Ok((text_plain, headers, rest[..answered].to_vec()).into_response())
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}
