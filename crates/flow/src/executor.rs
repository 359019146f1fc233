//! Starts task instances as child processes (`retrain task run …`), each
//! in its own process group with its output in
//! `logs/{pipeline}/{run_id}/{task}/{try}.log`, and waits for them under
//! a timeout. A timed-out or cancelled task is killed with its whole
//! process group, so a `shell` task's children go too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::sync::Arc;

use retrain_registry::{Role, SqlStore, TOKEN_ENV};
use serde_json::Value;
use tokio::process::Command;

use crate::protocol::{self, ACTOR_ENV, OUTPUT_FILE_ENV, TRY_NUMBER_ENV};

/// How a child ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Exit {
    /// It exited with this code: 0 is done, [`crate::protocol::EXIT_SKIPPED`]
    /// and [`crate::protocol::EXIT_NOT_YET`] are a skip and a sensor's "not
    /// yet", any other a failed try.
    Code(i32),
    /// It was killed by a signal: a scheduler shutdown, or a kill from
    /// outside.
    Signal,
    /// It ran past its timeout, this long, and was killed with its process
    /// group.
    TimedOut(Duration),
    /// It could not be started at all.
    NotStarted(String),
}

/// A task instance the scheduler wants run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The pipeline's name.
    pub pipeline: String,
    /// The run the instance belongs to.
    pub run_id: String,
    /// The task's name in the pipeline.
    pub task: String,
    /// The try this launch is (1 for the first), as the child sees it in
    /// `RETRAIN_TRY_NUMBER`.
    pub try_number: u32,
    /// Wall-clock limit of this try; `None` waits as long as the child runs.
    pub timeout: Option<Duration>,
}

/// A task instance's child that has ended, as the scheduler records it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// What was started.
    pub launch: Launch,
    /// How the child ended.
    pub exit: Exit,
    /// What the task returned (`outputs.TASK`), when it wrote one.
    pub output: Option<Value>,
    /// The try's log file, `{logs}/{pipeline}/{run_id}/{task}/{try}.log`.
    pub log: PathBuf,
}

/// Spawns `program task run …` children.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The executable started as `program task run …`: this very binary, or in
    /// tests a script standing in for it.
    pub program: PathBuf,
    /// The project directory: children run there.
    pub root: PathBuf,
    /// Where task logs go (`logs/` of the project unless retrain.yaml says
    /// otherwise).
    pub logs: PathBuf,
    /// Extra environment for every child (e.g. `MLFLOW_TRACKING_URI`).
    pub env: Vec<(String, String)>,
    /// The store whose sessions give each child a token of its own
    /// (`MLFLOW_TRACKING_TOKEN`, acting as `task:PIPELINE/RUN/TASK`) for
    /// as long as it runs, when the tracking server is this process's and
    /// signs callers in; `None`: children use what their environment has.
    pub sign_in: Option<Arc<SqlStore>>,
}

/// How long a task's token lasts when its task has no timeout; it ends
/// with the task anyway, this only bounds a token whose end was missed.
const TASK_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl Launcher {
    /// Children of this very program, in `project`, reaching tracking at
    /// `tracking_uri`.
    pub fn for_project(project: &crate::Project, tracking_uri: String) -> std::io::Result<Launcher> {
        Ok(Launcher {
            program: std::env::current_exe()?,
            root: project.root.clone(),
            logs: project.logs_dir(),
            env: vec![("MLFLOW_TRACKING_URI".into(), tracking_uri)],
            sign_in: None,
        })
    }

    /// Gives every child a token of its own from `store`'s sessions.
    pub fn signing_in(mut self, store: Arc<SqlStore>) -> Launcher {
        self.sign_in = Some(store);
        self
    }

    pub(crate) fn log_path(&self, pipeline: &str, run_id: &str, task: &str, try_number: u32) -> PathBuf {
        log_path(&self.logs, pipeline, run_id, task, try_number)
    }

    /// Starts the child; returns its pid and a future that resolves when
    /// it has ended (or was killed at its timeout).
    pub fn spawn(
        &self,
        launch: Launch,
    ) -> Result<(u32, impl Future<Output = Finished> + Send + 'static), (Launch, String)> {
        let log = self.log_path(&launch.pipeline, &launch.run_id, &launch.task, launch.try_number);
        let opened = log
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(&log));
        let file = match opened {
            Ok(file) => file,
            Err(e) => return Err((launch, format!("cannot open log {}: {e}", log.display()))),
        };
        let stderr = match file.try_clone() {
            Ok(f) => f,
            Err(e) => return Err((launch, format!("cannot open log {}: {e}", log.display()))),
        };
        let output_file = protocol::output_path(&log);
        let _ = std::fs::remove_file(&output_file);
        let actor = protocol::task_actor(&launch.pipeline, &launch.run_id, &launch.task);
        let token = self.sign_in.clone().map(|store| {
            let ttl = launch.timeout.map_or(TASK_TOKEN_TTL, |t| t + Duration::from_secs(60));
            let secret = store.sessions().issue(&actor, Role::Editor, ttl);
            (store, secret)
        });
        let mut command = Command::new(&self.program);
        if let Some((_, secret)) = &token {
            command.env(TOKEN_ENV, secret);
        }
        command
            .args(protocol::task_run_args(&launch.pipeline, &launch.task, &launch.run_id))
            .current_dir(&self.root)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(OUTPUT_FILE_ENV, &output_file)
            .env(TRY_NUMBER_ENV, launch.try_number.to_string())
            .env(ACTOR_ENV, &actor)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .process_group(0);
        // The token ends with the child, however it ends.
        let end_token = move || {
            if let Some((store, secret)) = &token {
                store.sessions().end(secret);
            }
        };
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                end_token();
                return Err((launch, format!("cannot start {}: {e}", self.program.display())));
            }
        };
        let pid = child.id().unwrap_or(0);
        let wait = async move {
            let status = match launch.timeout {
                Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                    Ok(status) => Some(status),
                    Err(_) => {
                        kill_group(pid, libc::SIGKILL);
                        let _ = child.wait().await;
                        None
                    }
                },
                None => Some(child.wait().await),
            };
            end_token();
            let exit = match status {
                None => Exit::TimedOut(launch.timeout.unwrap_or_default()),
                Some(Ok(status)) => status.code().map_or(Exit::Signal, Exit::Code),
                Some(Err(e)) => Exit::NotStarted(e.to_string()),
            };
            let output = (exit == Exit::Code(0)).then(|| protocol::read_output(&output_file)).flatten();
            Finished { launch, exit, output, log }
        };
        Ok((pid, wait))
    }
}

/// Where a try's output goes under the logs directory `logs`:
/// `{pipeline}/{run_id}/{task}/{try}.log`.
pub fn log_path(logs: &Path, pipeline: &str, run_id: &str, task: &str, try_number: u32) -> PathBuf {
    logs.join(pipeline).join(run_id).join(task).join(format!("{try_number}.log"))
}

/// Sends `signal` to the process group led by `pid`.
pub fn kill_group(pid: u32, signal: i32) {
    if pid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; it
        // touches no memory of ours. (The workspace denies unsafe code; this
        // call has no safe wrapper in libc.)
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-(pid as i32), signal);
        }
    }
}

/// Whether `pid` is alive and is the task instance `marker` names (so a
/// pid reused by an unrelated process is left alone).
pub fn is_task_process(pid: i64, marker: &str) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    text.contains("task run") && text.contains(marker)
}

/// The last `lines` lines of a log, for alerts.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
