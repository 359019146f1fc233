//! `retrain init`, `retrain up`, `retrain pipelines …`, `retrain
//! variables …`, `retrain secrets rotate-key` and `retrain task run`: the
//! orchestration commands. They work in the project directory (the
//! current one, or `--project`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use retrain_flow::executor::Launcher;
use retrain_flow::pipeline::parse_date;
use retrain_flow::project::{self, CONFIG_FILE, Project};
use retrain_flow::runs;
use retrain_flow::schedule::Interval;
use retrain_flow::scheduler::{Options, Scheduler, SchedulerHandle, SystemClock, UP_OWNER};
use retrain_flow::secrets::{KEY_ENV, SecretKey};
use retrain_flow::state::{PipelineRun, RunState, RunType};
use retrain_flow::store::PipelineStore;
use retrain_flow::task::{self, Invocation};
use retrain_flow::{Pipeline, ops::Outcome, redact};
use retrain_registry::{ArtifactStore, MlflowClient, Role, SqlStore};
use retrain_server::airflow::PipelineApi;
use retrain_server::serving::ServingOptions;
use retrain_server::{App, Server};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::server::{shutdown_signal, stopped};
use super::{Exit, UsageError};

#[derive(Args)]
pub(crate) struct InitArgs {
    /// Directory to scaffold (created if missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(Args)]
pub(crate) struct UpArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

#[derive(Subcommand)]
pub(crate) enum PipelinesCommand {
    /// Every pipeline with its schedule, state and last run.
    List,
    /// Load every pipeline and report every mistake (exit 2 if any).
    Check,
    /// One run to completion in the foreground; exit 0 only on success.
    Run {
        name: String,
        /// The data interval's start (YYYY-MM-DD); the last complete interval by default.
        #[arg(long)]
        ds: Option<String>,
        /// JSON object laid over the pipeline's params.
        #[arg(long)]
        conf: Option<String>,
    },
    /// Queue a run for the running `retrain up`.
    Trigger {
        name: String,
        #[arg(long)]
        conf: Option<String>,
    },
    /// Run every interval between two dates (inclusive), in the foreground.
    Backfill {
        name: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    Pause {
        name: String,
    },
    Unpause {
        name: String,
    },
    /// Recent runs and their task states.
    Runs {
        name: String,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub(crate) enum VariablesCommand {
    /// Set a variable. One named like a secret (TOKEN, SECRET, PASSWORD, …)
    /// or set with --secret is stored encrypted with the project's secret key.
    Set {
        /// Its name, `var.KEY` in templates: letters, digits and '_'.
        key: String,
        /// Its value; templates read one that parses as JSON as JSON.
        value: String,
        /// Store it encrypted and show it masked, whatever its name.
        #[arg(long)]
        secret: bool,
    },
    /// Print a variable's value; a secret one prints as *** unless --reveal.
    Get {
        /// The variable's name.
        key: String,
        /// Print a secret variable's clear value.
        #[arg(long)]
        reveal: bool,
    },
    /// Every variable and its value, secret ones as ***.
    List,
    /// Delete a variable.
    Delete {
        /// The variable's name.
        key: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum SecretsCommand {
    /// Generate a new secret key, re-encrypt every secret variable with it
    /// in one transaction, then replace .retrain/secret_key (not possible
    /// when RETRAIN_SECRET_KEY gives the key: rotate that yourself).
    RotateKey,
}

#[derive(Subcommand)]
pub(crate) enum TaskCommand {
    /// Run one task instance (what the scheduler and Airflow call).
    Run {
        pipeline: String,
        task: String,
        /// A recorded run to take the interval, conf and upstream outputs from.
        #[arg(long)]
        run_id: Option<String>,
        /// The data interval's start, for a run that is not recorded.
        #[arg(long)]
        ds: Option<String>,
        #[arg(long)]
        conf: Option<String>,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().context("cannot read the current directory")
}

fn parse_conf(conf: Option<&str>) -> Result<Map<String, Value>> {
    match conf {
        None => Ok(Map::new()),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(UsageError("--conf must be a JSON object, e.g. '{\"rows\": 500}'".into()).into()),
            Err(e) => Err(UsageError(format!("--conf is not valid JSON: {e}")).into()),
        },
    }
}

async fn open_state(project: &Project) -> Result<PipelineStore> {
    let store = SqlStore::connect(&project.config.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?;
    Ok(PipelineStore::new(Arc::new(store)))
}

pub(crate) fn init(args: InitArgs) -> Result<()> {
    let written = project::init(&args.dir)?;
    if written.is_empty() {
        println!("{} already holds every scaffold file; nothing written", args.dir.display());
    }
    for file in written {
        let shown = if args.dir == Path::new(".") { file } else { args.dir.join(file) };
        println!("created {}", shown.display());
    }
    Ok(())
}

/// Loads the pipelines, printing those that fail to load.
fn load_pipelines(project: &Project) -> Vec<Pipeline> {
    let (pipelines, errors) = project.load_pipelines();
    for e in errors {
        tracing::error!("{e}");
    }
    pipelines
}

fn launcher(project: &Project, tracking: String) -> Result<Launcher> {
    Launcher::for_project(project, tracking).context("cannot find the retrain executable")
}

/// How long the server's own parts (the serving watcher) hold their token:
/// as long as the process lives.
const OWN_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `retrain up` always signs callers in, so it may listen anywhere.
pub(crate) fn up(args: UpArgs) -> Result<()> {
    runtime()?.block_on(async {
        let root = current_dir()?;
        if !root.join(CONFIG_FILE).exists() {
            for file in project::init(&root)? {
                println!("created {}", file.display());
            }
        }
        let project = Project::open(&root)?;
        let store = Arc::new(
            SqlStore::connect(&project.config.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?,
        );
        let sign_in = super::users::first_admin(&store, &root).await?;
        // Tasks decrypt secret variables with it; made now, not by the
        // first task that would need it.
        SecretKey::load_or_create(&root)?;
        let artifacts = Arc::new(ArtifactStore::open(&project.config.artifacts_destination)?);
        let (stop_tx, stop_rx) = watch::channel(false);
        let state = PipelineStore::new(store.clone());
        let scheduler_handle = Arc::new(SchedulerHandle::default());
        let server = Server::bind(&args.host, args.port).await?;
        let watcher_token = store.sessions().issue("retrain:serving", Role::Viewer, OWN_TOKEN_TTL);
        let serving = ServingOptions {
            tracking: MlflowClient::with_token(server.url(), &watcher_token)?,
            cache: root.join(project::paths::MODEL_CACHE),
            poll: std::time::Duration::from_secs(2),
        };
        let api = PipelineApi::new(project.clone(), state.clone(), UP_OWNER, scheduler_handle.clone());
        let app = App::builder(store.clone(), artifacts).serving(serving).pipelines(api).sign_in().build();
        let server = server.spawn(app, stopped(stop_rx.clone()));
        println!(
            "retrain is up: open {url}/ in a browser and {sign_in}\n  APIs: tracking at {url}/api/2.0/mlflow/, pipelines at {url}/api/v2/dags, models at {url}/models/NAME/invocations",
            url = server.url()
        );
        let pipelines = load_pipelines(&project);
        if let Some(setting) = &project.config.bootstrap {
            runs::bootstrap(setting, &pipelines, &state, UP_OWNER, Utc::now()).await?;
        }
        let mut scheduler = Scheduler::new(
            &project,
            pipelines,
            state,
            match project.tracking_uri() {
                Some(elsewhere) => launcher(&project, elsewhere)?,
                None => launcher(&project, server.url().to_owned())?.signing_in(store.clone()),
            },
            Arc::new(SystemClock),
            Options {
                owner: UP_OWNER.into(),
                create_scheduled_runs: true,
                parallelism: project.config.parallelism,
            },
        )
        .reloading_from(project.clone())
        .sharing(scheduler_handle);
        let recovered = scheduler.recover().await?;
        if recovered > 0 {
            tracing::warn!(
                "{recovered} task instance(s) were interrupted by the last stop; retried by their policy"
            );
        }
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: running tasks are put back for a retry");
            let _ = stop_tx.send(true);
        });
        scheduler.run(false, stop_rx).await?;
        server.stopped().await;
        Ok(())
    })
}

pub(crate) fn pipelines(command: PipelinesCommand) -> Result<()> {
    let project = Project::open(&current_dir()?)?;
    runtime()?.block_on(async {
        match command {
            PipelinesCommand::List => list(&project).await,
            PipelinesCommand::Check => check(&project),
            PipelinesCommand::Run { name, ds, conf } => {
                let pipeline = project.pipeline(&name)?;
                let conf = parse_conf(conf.as_deref())?;
                let interval = match ds {
                    Some(ds) => pipeline
                        .schedule
                        .interval_at(parse_date(&ds).map_err(|m| UsageError(format!("--ds: {m}")))?),
                    None => pipeline.schedule.interval_for_manual(Utc::now()),
                };
                run_foreground(&project, &pipeline, vec![(RunType::Manual, interval)], conf).await
            }
            PipelinesCommand::Trigger { name, conf } => {
                let pipeline = project.pipeline(&name)?;
                let state = open_state(&project).await?;
                let conf = parse_conf(conf.as_deref())?;
                let run = PipelineRun::manual(&pipeline, None, conf, UP_OWNER, Utc::now());
                if !state.insert_run(&run).await? {
                    anyhow::bail!(
                        "run {} of {} was queued a moment ago; trigger again",
                        run.run_id,
                        pipeline.name
                    );
                }
                println!("queued run {} of {}; `retrain up` runs it", run.run_id, pipeline.name);
                Ok(())
            }
            PipelinesCommand::Backfill { name, from, to } => {
                let pipeline = project.pipeline(&name)?;
                let from = parse_date(&from).map_err(|m| UsageError(format!("--from: {m}")))?;
                let to = parse_date(&to).map_err(|m| UsageError(format!("--to: {m}")))?;
                let intervals = runs::backfill_intervals(&pipeline, from, to)?
                    .into_iter()
                    .map(|interval| (RunType::Backfill, interval))
                    .collect();
                run_foreground(&project, &pipeline, intervals, Map::new()).await
            }
            PipelinesCommand::Pause { name } => set_paused(&project, &name, true).await,
            PipelinesCommand::Unpause { name } => set_paused(&project, &name, false).await,
            PipelinesCommand::Runs { name, limit } => runs(&project, &name, limit).await,
        }
    })
}

async fn set_paused(project: &Project, name: &str, paused: bool) -> Result<()> {
    let pipeline = project.pipeline(name)?;
    open_state(project).await?.set_paused(&pipeline.name, paused).await?;
    if paused {
        println!("paused {name}: no new runs start until `retrain pipelines unpause {name}`");
    } else {
        println!("unpaused {name}");
    }
    Ok(())
}

async fn list(project: &Project) -> Result<()> {
    let state = open_state(project).await?;
    let paused = state.paused().await?;
    let (pipelines, errors) = project.load_pipelines();
    println!("{:<22} {:<14} {:>5}  {:<8} last run", "pipeline", "schedule", "tasks", "paused");
    for p in pipelines {
        let last = state.recent_runs(&p.name, 1).await?.into_iter().next();
        let last = last.map(|r| format!("{} {}", r.run_id, r.state)).unwrap_or_else(|| "-".into());
        let is_paused = if paused.contains(&p.name) { "yes" } else { "no" };
        println!(
            "{:<22} {:<14} {:>5}  {:<8} {last}",
            p.name,
            p.schedule.describe(),
            p.tasks.len(),
            is_paused
        );
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(())
}

fn check(project: &Project) -> Result<()> {
    let (pipelines, errors) = project.load_pipelines();
    for e in &errors {
        eprintln!("{e}");
    }
    if !errors.is_empty() {
        return Err(UsageError(format!(
            "{} of {} pipeline files have errors",
            errors.len(),
            errors.len() + pipelines.len()
        ))
        .into());
    }
    for p in &pipelines {
        println!("ok  {:<22} {} tasks, schedule {}", p.name, p.tasks.len(), p.schedule.describe());
    }
    println!("{} pipelines OK", pipelines.len());
    Ok(())
}

async fn runs(project: &Project, name: &str, limit: i64) -> Result<()> {
    let pipeline = project.pipeline(name)?;
    let state = open_state(project).await?;
    let runs = state.recent_runs(name, limit).await?;
    if runs.is_empty() {
        println!("pipeline {name} has no runs yet");
    }
    for run in runs {
        println!(
            "{}  {}  interval {} .. {}",
            run.run_id,
            run.state,
            run.interval_start.to_rfc3339(),
            run.interval_end.to_rfc3339()
        );
        print_instances(&pipeline, &state.task_instances(name, &run.run_id).await?);
    }
    Ok(())
}

/// One line per task instance, in the pipeline's task order.
fn print_instances(pipeline: &Pipeline, instances: &[retrain_flow::state::TaskInstance]) {
    for task in pipeline.tasks.keys() {
        if let Some(ti) = instances.iter().find(|ti| &ti.task == task) {
            let note = ti.message.as_deref().map(|m| format!("  {m}")).unwrap_or_default();
            println!(
                "    {:<22} {:<17} try {}/{}{note}",
                ti.task,
                ti.state.as_str(),
                ti.try_number,
                ti.max_tries
            );
        }
    }
}

/// Drives runs of `pipeline` for `intervals` to their end in this process
/// (with a tracking server of its own unless one is configured), and
/// reports; fails unless every run succeeded.
async fn run_foreground(
    project: &Project,
    pipeline: &Pipeline,
    intervals: Vec<(RunType, Interval)>,
    conf: Map<String, Value>,
) -> Result<()> {
    let store =
        Arc::new(SqlStore::connect(&project.config.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Tasks use the tracking server the user named, else one of our own,
    // which only they can call, each with its own token.
    let (launcher, server) = match project.tracking_uri() {
        Some(uri) => (launcher(project, uri)?, None),
        None => {
            let artifacts = Arc::new(ArtifactStore::open(&project.config.artifacts_destination)?);
            let app = App::builder(store.clone(), artifacts).sign_in().build();
            let server = Server::bind("127.0.0.1", 0).await?.spawn(app, stopped(stop_rx.clone()));
            (launcher(project, server.url().to_owned())?.signing_in(store.clone()), Some(server))
        }
    };
    let (interrupt_tx, interrupt_rx) = watch::channel(false);
    let interrupt = tokio::spawn(async move {
        shutdown_signal().await;
        let _ = interrupt_tx.send(true);
    });
    let driven = runs::run_in_foreground(
        project,
        pipeline,
        PipelineStore::new(store),
        launcher,
        intervals,
        conf,
        interrupt_rx,
    )
    .await;
    interrupt.abort();
    let _ = stop_tx.send(true);
    if let Some(server) = server {
        server.stopped().await;
    }
    let driven = driven?;
    for interval in &driven.skipped {
        println!("{} already has a run for {}; skipped", pipeline.name, interval.start.date_naive());
    }
    for run in &driven.runs {
        let shown = run.state.map_or("missing", RunState::into);
        println!("{} {}: {shown}", pipeline.name, run.run_id);
        print_instances(pipeline, &run.instances);
    }
    let failed = driven.failures();
    if failed > 0 {
        let logs = project.logs_dir().join(&pipeline.name);
        return Err(Exit(
            1,
            format!("{failed} of {} run(s) did not succeed; logs in {}", driven.runs.len(), logs.display()),
        )
        .into());
    }
    Ok(())
}

pub(crate) fn variables(command: VariablesCommand) -> Result<()> {
    let project = Project::open(&current_dir()?)?;
    runtime()?.block_on(async {
        let state = open_state(&project).await?;
        match command {
            VariablesCommand::Set { key, value, secret } => {
                let secret = secret || redact::is_secret_name(&key);
                if secret {
                    let key_used = SecretKey::load_or_create(&project.root)?;
                    state.with_secret_key(Some(key_used)).set_variable(&key, &value, true).await?;
                    println!("set {key} (secret: stored encrypted, shown as {})", redact::MASK);
                } else {
                    state.set_variable(&key, &value, false).await?;
                    println!("set {key}");
                }
            }
            VariablesCommand::Get { key, reveal } => {
                let Some(variable) = state.get_variable(&key).await? else {
                    return Err(UsageError(format!("no variable '{key}'")).into());
                };
                if variable.is_secret() && !reveal {
                    println!("{}", redact::MASK);
                } else {
                    let state = state.with_secret_key(SecretKey::load(&project.root)?);
                    println!("{}", state.clear_value(&variable)?);
                }
            }
            VariablesCommand::List => {
                for variable in state.variables().await? {
                    let shown = if variable.is_secret() { redact::MASK } else { &variable.value };
                    println!("{} = {shown}", variable.key);
                }
            }
            VariablesCommand::Delete { key } => {
                if !state.delete_variable(&key).await? {
                    return Err(UsageError(format!("no variable '{key}'")).into());
                }
                println!("deleted {key}");
            }
        }
        Ok(())
    })
}

pub(crate) fn secrets(command: SecretsCommand) -> Result<()> {
    let SecretsCommand::RotateKey = command;
    let project = Project::open(&current_dir()?)?;
    let old = SecretKey::load(&project.root)?;
    if old.as_ref().is_some_and(SecretKey::is_from_env) {
        return Err(UsageError(format!(
            "the secret key comes from {KEY_ENV}, which retrain cannot rewrite: write its value to {file} \
             (mode 0600), unset {KEY_ENV} and rotate again; the new key will be in {file}",
            file = project::paths::SECRET_KEY
        ))
        .into());
    }
    runtime()?.block_on(async {
        let state = open_state(&project).await?.with_secret_key(old);
        let new = SecretKey::generate();
        // On disk before any value needs it; in place only once every
        // value is re-encrypted. Dropped on an error, it is removed; a
        // crash between the commit and the rename leaves it in
        // `.retrain/secret_key.new`.
        let staged = new.stage(&project.root)?;
        let written = state.rotate_secret_key(&new).await?;
        staged.install()?;
        println!(
            "rotated the secret key in {}; {written} secret variable(s) re-encrypted",
            project::paths::SECRET_KEY
        );
        Ok(())
    })
}

pub(crate) fn task(command: TaskCommand) -> Result<()> {
    let TaskCommand::Run { pipeline, task, run_id, ds, conf } = command;
    let project = Project::open(&current_dir()?)?;
    let invocation = Invocation { pipeline, task, run_id, ds, conf: parse_conf(conf.as_deref())? };
    runtime()?.block_on(async {
        let instance = task::prepare(project, &invocation).await?;
        // Relative paths in the pipeline are relative to the project.
        std::env::set_current_dir(instance.root())
            .with_context(|| format!("cannot enter {}", instance.root().display()))?;
        let outcome = task::execute(&instance).await.map_err(|e| {
            anyhow::anyhow!("task {} failed: {}", instance.key(), instance.redactor().redact(&e.to_string()))
        })?;
        outcome.hand_over().context("cannot hand the task's output over")?;
        let code = outcome.exit_code() as u8;
        match outcome {
            Outcome::Done(_) => Ok(()),
            Outcome::Skipped(why) => Err(Exit(code, format!("skipped: {why}")).into()),
            Outcome::NotYet(why) => Err(Exit(code, format!("not yet: {why}")).into()),
        }
    })
}
