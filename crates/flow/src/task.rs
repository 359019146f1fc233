//! One task instance, run in its own process: `retrain task run PIPELINE
//! TASK --run-id ID` (what the executor starts) or `--ds DATE` (what a
//! user or Airflow starts). It builds the template context from the run
//! (interval, conf, variables, upstream outputs; secret variables
//! decrypted, and masked in its output), renders the task's
//! arguments and hands them, with an [`ops::Env`], to the operator.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use retrain_registry::SqlStore;
use serde_json::{Map, Value};

use crate::ops::{self, Action, OpError, Outcome};
use crate::pipeline::{self, Pipeline, Task};
use crate::project::Project;
use crate::redact::Redactor;
use crate::secrets::SecretKey;
use crate::state::PipelineRun;
use crate::store::PipelineStore;
use crate::template::{self, Context};

/// Which task instance to run.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The pipeline's name.
    pub pipeline: String,
    /// The task's name in the pipeline.
    pub task: String,
    /// A recorded run to take the interval, conf and upstream outputs from.
    pub run_id: Option<String>,
    /// The data interval's start, `YYYY-MM-DD` or RFC 3339.
    pub ds: Option<String>,
    /// Laid over the run's conf.
    pub conf: Map<String, Value>,
}

/// A task instance ready to run: its task and the operator's environment.
#[derive(Debug)]
pub struct Instance {
    root: PathBuf,
    task: Task,
    env: ops::Env,
}

impl Instance {
    /// `pipeline/run_id/task`, unique per task instance.
    pub fn key(&self) -> String {
        self.env.instance_key()
    }

    /// What masks secrets in what the task prints: secret environment
    /// variables and secret variables.
    pub fn redactor(&self) -> &Redactor {
        self.env.redactor()
    }

    /// The project directory, where the task's relative paths start.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Why a task instance cannot be prepared to run.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The project or its pipeline cannot be read.
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    /// The pipeline has no task of that name.
    #[error("pipeline '{pipeline}' has no task '{task}'; tasks: {known}")]
    UnknownTask {
        /// The pipeline's name.
        pipeline: String,
        /// The task asked for.
        task: String,
        /// The pipeline's tasks, comma-separated.
        known: String,
    },
    /// The invocation is wrong: a bad `--ds`, an unknown run, neither `--ds`
    /// nor `--run-id`.
    #[error("{0}")]
    Invalid(String),
    /// The metadata database cannot be reached or read.
    #[error(transparent)]
    Store(#[from] retrain_registry::StoreError),
    /// The secret key is malformed or cannot be read.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// An argument's template does not render.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
}

/// Prepares a task instance: loads its pipeline, finds its run (or makes
/// up one for `--ds`) and renders the context.
pub async fn prepare(project: Project, invocation: &Invocation) -> Result<Instance, InvocationError> {
    let pipeline = project.pipeline(&invocation.pipeline)?;
    let task = pipeline.tasks.get(&invocation.task).cloned().ok_or_else(|| InvocationError::UnknownTask {
        pipeline: pipeline.name.clone(),
        task: invocation.task.clone(),
        known: pipeline.tasks.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    let store = SqlStore::connect(&project.config.backend_store_uri, "mlflow-artifacts:").await?;
    let key = SecretKey::load(&project.root)?;
    let state = PipelineStore::new(Arc::new(store)).with_secret_key(key);
    let recorded = match &invocation.run_id {
        Some(run_id) => state.get_run(&pipeline.name, run_id).await?,
        None => None,
    };
    let (run_id, start, end, mut conf) = match (&recorded, &invocation.ds) {
        (Some(run), _) => (run.run_id.clone(), run.interval_start, run.interval_end, run.conf.clone()),
        (None, Some(ds)) => {
            let date =
                pipeline::parse_date(ds).map_err(|m| InvocationError::Invalid(format!("--ds: {m}")))?;
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
    let recorded = Recorded { run_id: &run_id, start, end, conf };
    let (context, secrets) = run_context(&state, &pipeline, &task, recorded).await?;
    let env = ops::Env::new(
        context,
        start,
        &task.name,
        project.notifier().clone(),
        project.tracking_uri(),
        Some(state),
        Redactor::from_env_and(secrets),
    );
    Ok(Instance { root: project.root, task, env })
}

/// What a task instance's templates are rendered from: its run's id,
/// data interval and conf.
struct Recorded<'a> {
    run_id: &'a str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    conf: Map<String, Value>,
}

/// The context `task`'s templates see in the run `recorded`, and the
/// clear values of the secret variables in it.
async fn run_context(
    state: &PipelineStore,
    pipeline: &Pipeline,
    task: &Task,
    recorded: Recorded<'_>,
) -> Result<(Context, Vec<String>), InvocationError> {
    let mut context = Context::new(&pipeline.name, recorded.run_id, recorded.start, recorded.end);
    context.params = pipeline.params.clone();
    context.params.extend(recorded.conf.clone());
    context.conf = recorded.conf;
    let (var, secrets) = state.template_variables().await?;
    context.var = var;
    context.outputs = upstream_outputs(state, pipeline, task, recorded.run_id).await?;
    Ok((context, secrets))
}

/// `task`'s arguments as its instance in `run` renders them now (with
/// the upstream outputs recorded so far), secret values masked: what
/// people are shown of what a task was asked to do.
pub async fn rendered_arguments(
    state: &PipelineStore,
    pipeline: &Pipeline,
    task: &Task,
    run: &PipelineRun,
) -> Result<Value, InvocationError> {
    let recorded = Recorded {
        run_id: &run.run_id,
        start: run.interval_start,
        end: run.interval_end,
        conf: run.conf.clone(),
    };
    let (context, secrets) = run_context(state, pipeline, task, recorded).await?;
    let rendered = template::render_value(&Value::Object(task.args.clone()), &context)?;
    Ok(redact_value(&Redactor::from_env_and(secrets), rendered))
}

fn redact_value(redactor: &Redactor, value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(redactor.redact(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| redact_value(redactor, v)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, redact_value(redactor, v))).collect())
        }
        other => other,
    }
}

/// What the tasks upstream of `task` returned in the run.
async fn upstream_outputs(
    state: &PipelineStore,
    pipeline: &Pipeline,
    task: &Task,
    run_id: &str,
) -> Result<Map<String, Value>, InvocationError> {
    let upstream = pipeline.upstream_of(&task.name);
    let mut outputs = Map::new();
    for ti in state.task_instances(&pipeline.name, run_id).await? {
        if upstream.contains(&ti.task) {
            outputs.insert(ti.task.clone(), ti.output.unwrap_or(Value::Null));
        }
    }
    Ok(outputs)
}

/// Renders the task's arguments and runs it.
pub async fn execute(instance: &Instance) -> Result<Outcome, OpError> {
    let rendered = template::render_value(&Value::Object(instance.task.args.clone()), &instance.env.context)?;
    let Value::Object(args) = rendered else {
        return Err("task arguments did not render to a mapping".into());
    };
    let action = Action::parse(&instance.task.kind, &args).map_err(|e| e.message)?;
    action.run(&instance.env).await
}
