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
//!
//! The route table is here; `handlers` answers the requests, `views`
//! writes DAGs, runs and task instances as Airflow's JSON, and `problem`
//! is FastAPI's error shape.

mod handlers;
pub(crate) mod problem;
mod views;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use axum::http::StatusCode;
use retrain_flow::pipeline::Pipeline;
use retrain_flow::project::{Project, ProjectError};
use retrain_flow::scheduler::SchedulerHandle;
use retrain_flow::state::PipelineRun;
use retrain_flow::store::PipelineStore;
use retrain_registry::Role;

use crate::routes::{GET, PATCH, POST, Routes};
use handlers::{get_dag, get_run, health, list_dags, list_runs, list_task_instances, patch_dag, trigger};
use problem::Problem;

/// A scheduler's pipelines over Airflow's REST API.
pub struct PipelineApi {
    project: Project,
    state: PipelineStore,
    /// Runs triggered here are queued for this scheduler.
    owner: String,
    scheduler: Arc<SchedulerHandle>,
}

impl PipelineApi {
    /// The API over `project`'s pipelines and their `state`; runs
    /// triggered through it are queued for the scheduler named `owner`,
    /// which `scheduler` wakes.
    pub fn new(
        project: Project,
        state: PipelineStore,
        owner: &str,
        scheduler: Arc<SchedulerHandle>,
    ) -> PipelineApi {
        PipelineApi { project, state, owner: owner.to_owned(), scheduler }
    }

    /// The project whose pipelines these are.
    pub(crate) fn project(&self) -> &Project {
        &self.project
    }

    /// Where the pipelines' runs, task instances and variables are kept.
    pub(crate) fn state(&self) -> &PipelineStore {
        &self.state
    }

    /// The scheduler that runs triggered or cleared here are handed to.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes the scheduler look now, so that a run queued or cleared
    /// elsewhere in the process starts at once.
    pub(crate) fn wake_scheduler(&self) {
        self.scheduler.wake();
    }

    /// Airflow's routes over this API: reads for viewers; pausing and
    /// triggering for editors.
    pub(crate) fn routes(self: Arc<Self>) -> Routes {
        use Role::{Editor, Viewer};
        Routes::new()
            .to(GET, "/api/v2/monitor/health", Viewer, health)
            .to(GET, "/api/v2/dags", Viewer, list_dags)
            .to(GET, "/api/v2/dags/{dag_id}", Viewer, get_dag)
            .to(PATCH, "/api/v2/dags/{dag_id}", Editor, patch_dag)
            .to(GET, "/api/v2/dags/{dag_id}/dagRuns", Viewer, list_runs)
            .to(POST, "/api/v2/dags/{dag_id}/dagRuns", Editor, trigger)
            .to(GET, "/api/v2/dags/{dag_id}/dagRuns/{run_id}", Viewer, get_run)
            .to(GET, "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", Viewer, list_task_instances)
            .with_state(self)
    }

    /// The pipeline `dag_id`: 404 when there is none, 400 when its file
    /// does not load.
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

    /// The run `run_id` of `dag_id`, or 404.
    async fn run(&self, dag_id: &str, run_id: &str) -> Result<PipelineRun, Problem> {
        self.state.get_run(dag_id, run_id).await.map_err(Problem::store)?.ok_or_else(|| {
            Problem::detail(
                StatusCode::NOT_FOUND,
                format!("The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"),
            )
        })
    }

    /// The names of the paused pipelines.
    async fn paused(&self) -> Result<BTreeSet<String>, Problem> {
        self.state.paused().await.map_err(Problem::store)
    }
}

impl fmt::Debug for PipelineApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineApi")
            .field("project", &self.project.root)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}
