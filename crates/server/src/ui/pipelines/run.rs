//! `/pipelines/{name}/runs/{run_id}`: one run — its state, interval,
//! conf and times, its task instances in task order linked to their
//! tries and logs — and, for editors, the ways to intervene: clear the
//! whole run or only its failed tasks (each through a page that lists
//! what it resets), and mark it success or failed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::state::{RunState, TaskState};
use serde::Serialize;

use super::super::overview::store_failure;
use super::super::render::render;
use super::super::{Ui, Viewer, page_context};
use super::{InstanceView, RunView, pipeline, pipeline_href, pipeline_run, pipelines};

#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    instance: InstanceView,
    kind: String,
}

/// `GET /pipelines/{name}/runs/{run_id}`.
pub(super) async fn run(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, run_id)): Path<(String, String)>,
) -> Response {
    let page = async {
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let run = pipeline_run(api, &pipeline.name, &run_id).await?;
        let mut instances =
            api.state().task_instances(&pipeline.name, &run.run_id).await.map_err(|e| store_failure(&e))?;
        instances.sort_by_key(|ti| pipeline.tasks.get_index_of(&ti.task).unwrap_or(usize::MAX));
        let any_failed =
            instances.iter().any(|ti| matches!(ti.state, TaskState::Failed | TaskState::UpstreamFailed));
        let rows: Vec<Row> = instances
            .iter()
            .map(|ti| Row {
                kind: pipeline.tasks.get(&ti.task).map(|t| t.kind.clone()).unwrap_or_default(),
                instance: InstanceView::new(ti),
            })
            .collect();
        let active = matches!(run.state, RunState::Queued | RunState::Running);
        let conf = serde_json::to_string_pretty(&run.conf).unwrap_or_default();
        let view = RunView::new(&run);
        let values = context! {
            pipeline => &pipeline.name,
            pipeline_href => pipeline_href(&pipeline.name),
            run => Serde(&view),
            owner => &run.owner,
            conf,
            has_conf => !run.conf.is_empty(),
            instances => Serde(rows),
            active,
            any_failed,
        };
        let pipeline_link = pipeline_href(&pipeline.name);
        let breadcrumb = [
            ("Pipelines", Some("/pipelines")),
            (pipeline.name.as_str(), Some(pipeline_link.as_str())),
            (run.run_id.as_str(), None),
        ];
        Ok(render("pipelines/run.html", page_context(&viewer, "/pipelines", &breadcrumb, values)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}
