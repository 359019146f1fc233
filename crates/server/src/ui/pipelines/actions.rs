//! Intervening in a run: clearing task instances so the scheduler runs
//! them again, and marking a run or a task instance success or failed.
//!
//! A clear goes through a page first (`GET …/clear`) that lists every
//! task instance it will reset — a task with everything downstream of it
//! (`?task=NAME`), the failed ones (`?only=failed`), or the whole run —
//! and only that page's form acts. What the flow crate refuses (a run
//! still running, a task that is not there) is answered with the page
//! saying so.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::intervene::{ClearScope, InterventionError, to_clear};
use retrain_flow::state::{RunState, TaskState};
use serde::{Deserialize, Serialize};

use super::super::overview::store_failure;
use super::super::render::render;
use super::super::{Ui, Viewer, page_context};
use super::{
    InstanceView, Page, RunView, back_to, bad_request, pipeline, pipeline_href, pipeline_run, pipelines,
    refused, run_href, task_href,
};

/// What a clear resets, as its page's address and form say it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClearRequest {
    /// This task and everything downstream of it.
    #[serde(default)]
    task: Option<String>,
    /// `failed`: the failed and upstream-failed tasks only.
    #[serde(default)]
    only: Option<String>,
}

impl ClearRequest {
    fn scope(&self) -> Page<ClearScope<'_>> {
        match (&self.task, self.only.as_deref()) {
            (Some(_), Some(_)) => Err(bad_request("task and only", "give one of them, not both").into()),
            (Some(task), None) => Ok(ClearScope::Downstream(task)),
            (None, Some("failed")) => Ok(ClearScope::Failed),
            (None, Some(other)) => Err(bad_request("only", format!("'{other}' is not 'failed'")).into()),
            (None, None) => Ok(ClearScope::Whole),
        }
    }
}

/// `GET …/runs/{run_id}/clear`: what a clear would reset, and the button
/// that does it.
pub(super) async fn confirm_clear(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id)): Path<(String, String)>,
    query: Result<Query<ClearRequest>, QueryRejection>,
) -> Response {
    let page = async {
        let Query(request) =
            query.map_err(|e| bad_request("This page's address is not understood", e.body_text()))?;
        let scope = request.scope()?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let run = pipeline_run(api, &pipeline.name, &run_id).await?;
        if matches!(run.state, RunState::Queued | RunState::Running) {
            return Err(refused(InterventionError::RunActive { run_id: run.run_id, state: run.state }).into());
        }
        let instances =
            api.state().task_instances(&pipeline.name, &run.run_id).await.map_err(|e| store_failure(&e))?;
        if let ClearScope::Downstream(task) = scope
            && !instances.iter().any(|ti| ti.task == task)
        {
            return Err(refused(InterventionError::UnknownTask {
                run_id: run.run_id,
                task: task.to_owned(),
            })
            .into());
        }
        let cleared: Vec<InstanceView> =
            to_clear(&pipeline, &instances, scope).into_iter().map(InstanceView::new).collect();
        let what = match scope {
            ClearScope::Downstream(task) => format!("{task} and every task downstream of it"),
            ClearScope::Failed => "the failed and upstream-failed tasks".to_owned(),
            ClearScope::Whole => "every task of the run".to_owned(),
        };
        let view = RunView::new(&run);
        let values = context! {
            run => Serde(&view),
            what,
            cleared => Serde(cleared),
            request => Serde(&request),
        };
        let pipeline_link = pipeline_href(&pipeline.name);
        let breadcrumb = [
            ("Pipelines", Some("/pipelines")),
            (pipeline.name.as_str(), Some(pipeline_link.as_str())),
            (run.run_id.as_str(), Some(view.href.as_str())),
            ("Clear", None),
        ];
        Ok(render("pipelines/clear.html", page_context(&viewer, "/pipelines", &breadcrumb, values)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// `POST …/runs/{run_id}/clear`: resets what the confirmation page
/// listed and hands the run to the scheduler again.
pub(super) async fn clear(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id)): Path<(String, String)>,
    form: Result<Form<ClearRequest>, FormRejection>,
) -> Response {
    let page = async {
        let Form(request) =
            form.map_err(|e| bad_request("The clear form is not understood", e.body_text()))?;
        let scope = request.scope()?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        api.state().clear(&pipeline, &run_id, scope, api.owner(), &viewer.name).await.map_err(refused)?;
        api.wake_scheduler();
        Ok(back_to(&run_href(&pipeline.name, &run_id)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// The state a mark form asks for.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Mark {
    Success,
    Failed,
}

#[derive(Debug, Deserialize)]
pub(super) struct MarkForm {
    state: Mark,
}

/// `POST …/runs/{run_id}/mark`: ends the run as success or failed.
pub(super) async fn mark_run(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id)): Path<(String, String)>,
    form: Result<Form<MarkForm>, FormRejection>,
) -> Response {
    let page = async {
        let Form(form) = form.map_err(|e| bad_request("The mark form is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let state = match form.state {
            Mark::Success => RunState::Success,
            Mark::Failed => RunState::Failed,
        };
        api.state().mark_run(&pipeline.name, &run_id, state, &viewer.name).await.map_err(refused)?;
        Ok(back_to(&run_href(&pipeline.name, &run_id)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// `POST …/tasks/{task}/mark`: sets the task instance's state; in a
/// running run the scheduler goes on from there.
pub(super) async fn mark_task(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id, task)): Path<(String, String, String)>,
    form: Result<Form<MarkForm>, FormRejection>,
) -> Response {
    let page = async {
        let Form(form) = form.map_err(|e| bad_request("The mark form is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let state = match form.state {
            Mark::Success => TaskState::Success,
            Mark::Failed => TaskState::Failed,
        };
        api.state().mark_task(&pipeline.name, &run_id, &task, state, &viewer.name).await.map_err(refused)?;
        api.wake_scheduler();
        Ok(back_to(&task_href(&pipeline.name, &run_id, &task)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}
