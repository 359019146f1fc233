//! One task instance, run in its own process: `retrain task run PIPELINE
//! TASK --run-id ID` (what the executor starts) or `--ds DATE` (what a
//! user or Airflow starts). It builds the template context from the run
//! (interval, conf, variables, upstream outputs), renders the task's
//! arguments and runs them in the project directory.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use retrain_registry::{RestStore, SqlStore};
use serde_json::{Map, Value};

use crate::ops::{Action, OpError, Outcome};
use crate::project::Project;
use crate::spec::{self, Pipeline, Task};
use crate::state::State;
use crate::template::{self, Context};

/// Exit codes of `retrain task run` that are not failures.
pub const EXIT_SKIPPED: i32 = 99;
pub const EXIT_NOT_YET: i32 = 100;

/// The environment variable through which the executor learns a task's output.
pub const OUTPUT_FILE_ENV: &str = "RETRAIN_OUTPUT_FILE";

/// Which task instance to run.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub pipeline: String,
    pub task: String,
    pub run_id: Option<String>,
    /// The data interval's start, `YYYY-MM-DD` or RFC 3339.
    pub ds: Option<String>,
    pub conf: Map<String, Value>,
}

/// What a running task can reach.
pub struct TaskEnv {
    pub project: Project,
    pub pipeline: Pipeline,
    pub task: Task,
    pub context: Context,
    pub interval_start: DateTime<Utc>,
    state: Option<State>,
    tracking: OnceLock<Result<RestStore, String>>,
}

impl TaskEnv {
    /// `pipeline/run_id/task`, unique per task instance.
    pub fn instance_key(&self) -> String {
        format!("{}/{}/{}", self.pipeline.name, self.context.run_id, self.task.name)
    }

    /// The tracking server: `MLFLOW_TRACKING_URI`, else retrain.yaml's `tracking_uri`.
    pub fn tracking(&self) -> Result<&RestStore, OpError> {
        let store = self.tracking.get_or_init(|| {
            let uri = self.project.tracking_uri().ok_or_else(|| {
                    "no tracking server: set MLFLOW_TRACKING_URI (retrain up and retrain pipelines run set it for their tasks)"
                        .to_string()
                })?;
            RestStore::new(&uri).map_err(|e| e.to_string())
        });
        store.as_ref().map_err(|e| e.clone().into())
    }

    pub fn state(&self) -> Result<&State, OpError> {
        self.state.as_ref().ok_or_else(|| "the pipeline database is not available".into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error("pipeline '{pipeline}' has no task '{task}'; tasks: {known}")]
    UnknownTask { pipeline: String, task: String, known: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] retrain_registry::StoreError),
}

/// Prepares a task instance: loads its pipeline, finds its run (or makes
/// up one for `--ds`) and renders the context.
pub async fn prepare(project: Project, invocation: &Invocation) -> Result<TaskEnv, InvocationError> {
    let pipeline = project.pipeline(&invocation.pipeline)?;
    let task = pipeline.tasks.get(&invocation.task).cloned().ok_or_else(|| InvocationError::UnknownTask {
        pipeline: pipeline.name.clone(),
        task: invocation.task.clone(),
        known: pipeline.tasks.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    let store = SqlStore::connect(&project.config.backend_store_uri, "mlflow-artifacts:").await?;
    let state = State::new(Arc::new(store));
    let recorded = match &invocation.run_id {
        Some(run_id) => state.get_run(&pipeline.name, run_id).await?,
        None => None,
    };
    let (run_id, start, end, mut conf) = match (&recorded, &invocation.ds) {
        (Some(run), _) => (run.run_id.clone(), run.interval_start, run.interval_end, run.conf.clone()),
        (None, Some(ds)) => {
            let date = spec::parse_date(ds).map_err(|m| InvocationError::Invalid(format!("--ds: {m}")))?;
            let interval = pipeline.schedule.interval_at(date);
            let run_id = invocation
                .run_id
                .clone()
                .unwrap_or_else(|| format!("manual__{}", interval.start.to_rfc3339()));
            (run_id, interval.start, interval.end, Map::new())
        }
        (None, None) => {
            return Err(InvocationError::Invalid(match &invocation.run_id {
                Some(id) => format!(
                    "pipeline '{}' has no run '{id}'; give --ds DATE to run outside a recorded run",
                    pipeline.name
                ),
                None => "give --ds DATE or --run-id ID".into(),
            }));
        }
    };
    conf.extend(invocation.conf.clone());
    let mut context = Context::new(&pipeline.name, &run_id, start, end);
    context.params = pipeline.params.clone();
    context.params.extend(conf.clone());
    context.conf = conf;
    context.var = state.template_variables().await?;
    let upstream = pipeline.upstream_of(&task.name);
    for ti in state.task_instances(&pipeline.name, &run_id).await? {
        if upstream.contains(&ti.task) {
            context.outputs.insert(ti.task.clone(), ti.output.unwrap_or(Value::Null));
        }
    }
    Ok(TaskEnv {
        project,
        pipeline,
        task,
        context,
        interval_start: start,
        state: Some(state),
        tracking: OnceLock::new(),
    })
}

/// Renders the task's arguments and runs it.
pub async fn execute(env: &TaskEnv) -> Result<Outcome, OpError> {
    let rendered = template::render_value(&Value::Object(env.task.args.clone()), &env.context)?;
    let Value::Object(args) = rendered else {
        return Err("task arguments did not render to a mapping".into());
    };
    let action = Action::parse(&env.task.kind, &args).map_err(|e| e.message)?;
    action.run(env).await
}

/// Where the output of a task instance's try goes, beside its log.
pub fn output_path(log: &std::path::Path) -> PathBuf {
    log.with_extension("output.json")
}
