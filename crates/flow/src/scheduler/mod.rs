//! The scheduler: creates runs when their data interval ends, starts them
//! within `max_active_runs`, moves each task instance through its states
//! by the trigger rules, launches ready instances within the global
//! `parallelism`, and turns exits into success, retry, reschedule (sensor
//! pokes) or failure with an alert.
//!
//! All decisions read the time from a [`Clock`], so tests can move time
//! by hand. State lives in the database, which is what makes a restart
//! after `kill -9` safe: [`Scheduler::recover`] finds the instances that
//! were running, kills what is left of them, and applies their retry
//! policy.

mod clock;
mod exits;
mod handle;
mod rules;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use crate::executor::{Exit, Finished, Launch, Launcher, is_task_process, kill_group};
use crate::notify::Notifier;
use crate::pipeline::Pipeline;
use crate::project::Project;
use crate::schedule::{Window, due_intervals};
use crate::state::{PipelineRun, RunState, RunType, TaskInstance, TaskState};
use crate::store::{self, PipelineStore};

pub use clock::{Clock, ManualClock, SystemClock};
pub use handle::SchedulerHandle;
pub use rules::{run_outcome, trigger_decision};

/// The owner of runs driven by `retrain up`.
pub const UP_OWNER: &str = "scheduler";

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

type Key = (String, String, String);

#[derive(Debug)]
struct Running {
    pid: u32,
}

/// What a scheduler instance drives.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs with this owner are this scheduler's.
    pub owner: String,
    /// Create runs when schedules come due (`retrain up`); foreground
    /// commands only drive the runs they made.
    pub create_scheduled_runs: bool,
    /// Task instances this scheduler runs at once (retrain.yaml's
    /// `parallelism`).
    pub parallelism: usize,
}

/// Drives the runs of one owner: creates, starts and ends them, launches task
/// instances and records their exits.
#[derive(Debug)]
pub struct Scheduler {
    pipelines: BTreeMap<String, Pipeline>,
    state: PipelineStore,
    launcher: Launcher,
    notifier: Notifier,
    clock: Arc<dyn Clock>,
    options: Options,
    running: HashMap<Key, Running>,
    tasks: JoinSet<Finished>,
    alerts: JoinSet<()>,
    /// Reread pipeline files from this project now and then.
    reload: Option<(Project, std::time::Instant)>,
    /// Creation time of the newest queued run already looked at.
    newest_queued_seen: Option<i64>,
    shared: Arc<SchedulerHandle>,
}

impl Scheduler {
    /// A scheduler for `pipelines`, keeping state in `state` and starting
    /// children with `launcher`; it reads the time from `clock` and sends
    /// alerts to the project's channels.
    pub fn new(
        project: &Project,
        pipelines: Vec<Pipeline>,
        state: PipelineStore,
        launcher: Launcher,
        clock: Arc<dyn Clock>,
        options: Options,
    ) -> Scheduler {
        Scheduler {
            pipelines: pipelines.into_iter().map(|p| (p.name.clone(), p)).collect(),
            state,
            launcher,
            notifier: project.notifier().clone(),
            clock,
            options,
            running: HashMap::new(),
            tasks: JoinSet::new(),
            alerts: JoinSet::new(),
            reload: None,
            newest_queued_seen: None,
            shared: Arc::default(),
        }
    }

    /// Shares `handle` with the rest of the process (the REST API wakes
    /// the scheduler through it).
    pub fn sharing(mut self, handle: Arc<SchedulerHandle>) -> Scheduler {
        self.shared = handle;
        self
    }

    /// Rereads the project's pipeline files every few seconds, so edits
    /// take effect without a restart (a file that no longer loads keeps
    /// its last good definition).
    pub fn reloading_from(mut self, project: Project) -> Scheduler {
        self.reload = Some((project, std::time::Instant::now()));
        self
    }

    fn maybe_reload(&mut self) {
        const EVERY: Duration = Duration::from_secs(5);
        let Some((project, last)) = &mut self.reload else { return };
        if last.elapsed() < EVERY {
            return;
        }
        *last = std::time::Instant::now();
        let (pipelines, errors) = project.load_pipelines();
        for e in errors {
            tracing::warn!("{e} (the last good definition stays in use)");
        }
        for p in pipelines {
            self.pipelines.insert(p.name.clone(), p);
        }
    }

    /// Replaces the pipeline definitions (after files changed).
    pub fn set_pipelines(&mut self, pipelines: Vec<Pipeline>) {
        self.pipelines = pipelines.into_iter().map(|p| (p.name.clone(), p)).collect();
    }

    pub(crate) fn store(&self) -> &PipelineStore {
        &self.state
    }

    /// Creates a run, queued for this scheduler; false if it existed.
    pub async fn create_run(
        &self,
        pipeline: &Pipeline,
        run_type: RunType,
        interval: crate::schedule::Interval,
        conf: Map<String, Value>,
    ) -> store::Result<Option<String>> {
        let run = PipelineRun::queued(
            &pipeline.name,
            run_type,
            interval,
            conf,
            &self.options.owner,
            self.clock.now(),
        );
        Ok(self.state.insert_run(&run).await?.then_some(run.run_id))
    }

    /// Task instances that were running when a previous scheduler with
    /// this owner died: whatever is left of them is killed and their
    /// retry policy decides (a try that was cut short counts).
    pub async fn recover(&mut self) -> store::Result<usize> {
        let mut recovered = 0;
        let now = self.clock.now();
        for run in self.state.active_runs(&self.options.owner).await? {
            for mut ti in self.state.task_instances(&run.pipeline, &run.run_id).await? {
                if !matches!(ti.state, TaskState::Running | TaskState::Queued) {
                    continue;
                }
                if let Some(pid) = ti.pid
                    && is_task_process(pid, &run.run_id)
                {
                    kill_group(pid as u32, libc::SIGKILL);
                }
                let log = self.launcher.log_path(&ti.pipeline, &ti.run_id, &ti.task, ti.try_number);
                tracing::warn!(pipeline = %ti.pipeline, run = %ti.run_id, task = %ti.task, "task instance was interrupted by a scheduler stop; applying its retry policy");
                self.fail_try(&mut ti, "interrupted: the scheduler stopped while it ran".into(), &log, now)
                    .await?;
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    /// One round: due runs, run starts, task decisions, launches.
    pub async fn tick(&mut self) -> store::Result<()> {
        let now = self.clock.now();
        self.shared.heartbeat_ms.store(ms(now), Ordering::Relaxed);
        let paused = self.state.paused().await?;
        if self.options.create_scheduled_runs {
            for pipeline in self.pipelines.values() {
                if paused.contains(&pipeline.name) {
                    continue;
                }
                let last_end = self.state.last_interval_end(&pipeline.name).await?;
                let window = Window {
                    start_date: pipeline.start_date,
                    end_date: pipeline.end_date,
                    catchup: pipeline.catchup,
                };
                for interval in due_intervals(&pipeline.schedule, window, last_end, now) {
                    if let Some(run_id) =
                        self.create_run(pipeline, RunType::Scheduled, interval, Map::new()).await?
                    {
                        tracing::info!(pipeline = %pipeline.name, run = %run_id, "run created");
                    }
                }
            }
        }
        let runs = self.state.active_runs(&self.options.owner).await?;
        let mut running_per_pipeline: HashMap<String, u32> = HashMap::new();
        for run in runs.iter().filter(|r| r.state == RunState::Running) {
            *running_per_pipeline.entry(run.pipeline.clone()).or_default() += 1;
        }
        let mut ready: Vec<(TaskInstance, Option<Duration>)> = Vec::new();
        for run in &runs {
            let Some(pipeline) = self.pipelines.get(&run.pipeline).cloned() else {
                continue;
            };
            if run.state == RunState::Queued {
                let active = running_per_pipeline.entry(run.pipeline.clone()).or_default();
                if *active >= pipeline.max_active_runs
                    || (self.options.create_scheduled_runs && paused.contains(&pipeline.name))
                {
                    continue;
                }
                *active += 1;
                let tasks: Vec<(String, u32)> =
                    pipeline.tasks.values().map(|t| (t.name.clone(), t.retry.retries + 1)).collect();
                self.state.start_run(run, &tasks).await?;
                tracing::info!(pipeline = %run.pipeline, run = %run.run_id, "run started");
            }
            match self.advance_run(&pipeline, run, now).await? {
                Some(tasks) => ready.extend(tasks),
                // Finished: its slot is free for a queued run of the same pipeline.
                None => {
                    let active = running_per_pipeline.entry(run.pipeline.clone()).or_default();
                    *active = active.saturating_sub(1);
                }
            }
        }
        self.launch(ready, now).await
    }

    /// Decides every waiting instance of a run; returns those ready to
    /// launch, or `None` when the run has finished.
    async fn advance_run(
        &mut self,
        pipeline: &Pipeline,
        run: &PipelineRun,
        now: DateTime<Utc>,
    ) -> store::Result<Option<Vec<(TaskInstance, Option<Duration>)>>> {
        let mut instances: BTreeMap<String, TaskInstance> = self
            .state
            .task_instances(&run.pipeline, &run.run_id)
            .await?
            .into_iter()
            .map(|ti| (ti.task.clone(), ti))
            .collect();
        // Decisions cascade (a failure marks the whole chain downstream),
        // so repeat until nothing changes.
        loop {
            let mut changed = false;
            for task in pipeline.tasks.values() {
                let Some(ti) = instances.get(&task.name) else { continue };
                let new_state = match ti.state {
                    TaskState::NoState => {
                        let upstream: Vec<TaskState> =
                            task.needs.iter().filter_map(|n| instances.get(n)).map(|u| u.state).collect();
                        trigger_decision(task.trigger_rule, &upstream)
                    }
                    TaskState::UpForRetry | TaskState::UpForReschedule
                        if ti.next_attempt_at.is_none_or(|t| t <= ms(now)) =>
                    {
                        Some(TaskState::Scheduled)
                    }
                    _ => None,
                };
                if let Some(new_state) = new_state {
                    let mut ti = ti.clone();
                    ti.state = new_state;
                    if new_state.is_finished() {
                        ti.ended_at = Some(ms(now));
                    }
                    self.state.save(&ti).await?;
                    instances.insert(ti.task.clone(), ti);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let states: Vec<TaskState> = instances.values().map(|ti| ti.state).collect();
        if let Some(outcome) = run_outcome(&states) {
            self.state.finish_run(&run.pipeline, &run.run_id, outcome).await?;
            tracing::info!(pipeline = %run.pipeline, run = %run.run_id, state = %outcome, "run finished");
            if outcome == RunState::Success && !pipeline.on_success.is_empty() {
                let text = format!("pipeline {} run {} succeeded", run.pipeline, run.run_id);
                self.send_alert(pipeline.on_success.clone(), text);
            }
            return Ok(None);
        }
        Ok(Some(
            pipeline
                .tasks
                .values()
                .filter_map(|task| {
                    let ti = instances.get(&task.name)?;
                    let key = (ti.pipeline.clone(), ti.run_id.clone(), ti.task.clone());
                    (ti.state == TaskState::Scheduled && !self.running.contains_key(&key))
                        .then(|| (ti.clone(), task.timeout))
                })
                .collect(),
        ))
    }

    async fn launch(
        &mut self,
        ready: Vec<(TaskInstance, Option<Duration>)>,
        now: DateTime<Utc>,
    ) -> store::Result<()> {
        for (mut ti, timeout) in ready {
            if self.running.len() >= self.options.parallelism {
                break;
            }
            ti.try_number += 1;
            ti.state = TaskState::Running;
            ti.started_at = Some(ms(now));
            ti.first_started_at = ti.first_started_at.or(Some(ms(now)));
            ti.ended_at = None;
            ti.exit_code = None;
            let launch = Launch {
                pipeline: ti.pipeline.clone(),
                run_id: ti.run_id.clone(),
                task: ti.task.clone(),
                try_number: ti.try_number,
                timeout,
            };
            // Recorded as running before the process exists: a crash in
            // between is then recovered like any interrupted try.
            self.state.save(&ti).await?;
            match self.launcher.spawn(launch) {
                Ok((pid, wait)) => {
                    ti.pid = Some(pid as i64);
                    self.state.save(&ti).await?;
                    self.running
                        .insert((ti.pipeline.clone(), ti.run_id.clone(), ti.task.clone()), Running { pid });
                    self.tasks.spawn(wait);
                }
                Err((launch, message)) => {
                    let log = self.launcher.log_path(
                        &launch.pipeline,
                        &launch.run_id,
                        &launch.task,
                        launch.try_number,
                    );
                    self.fail_try(&mut ti, message, &log, now).await?;
                }
            }
        }
        Ok(())
    }

    /// How many task instances are running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Waits up to `wait` for a running task instance to end.
    pub async fn next_finished(&mut self, wait: Duration) -> Option<Finished> {
        if self.tasks.is_empty() {
            tokio::time::sleep(wait).await;
            return None;
        }
        match tokio::time::timeout(wait, self.tasks.join_next()).await {
            Ok(Some(Ok(finished))) => Some(finished),
            _ => None,
        }
    }

    /// Runs rounds until `shutdown` resolves, or — with `until_idle` —
    /// until this scheduler has no active run left.
    pub async fn run(
        &mut self,
        until_idle: bool,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> store::Result<()> {
        // A full round at least this often (schedules, sensors, retries)…
        const ROUND: Duration = Duration::from_millis(500);
        // …and a look for newly queued runs this often, so a trigger from
        // the command line starts within a few milliseconds (the API
        // wakes the scheduler at once through its handle).
        const GLANCE: Duration = Duration::from_millis(20);
        let shared = self.shared.clone();
        loop {
            self.maybe_reload();
            if let Err(e) = self.tick().await {
                // The database may be briefly unavailable; the next round retries.
                tracing::error!("scheduler round failed: {e}");
            }
            if until_idle
                && self.running.is_empty()
                && self.state.active_runs(&self.options.owner).await?.is_empty()
            {
                break;
            }
            let round_ends = tokio::time::Instant::now() + ROUND;
            loop {
                tokio::select! {
                    finished = self.next_finished(GLANCE) => {
                        if let Some(finished) = finished {
                            if let Err(e) = self.handle(finished).await {
                                tracing::error!("cannot record a task's end: {e}");
                            }
                            break;
                        }
                    }
                    _ = shutdown.changed() => {
                        self.stop().await?;
                        self.drain_alerts().await;
                        return Ok(());
                    }
                    _ = shared.wake.notified() => break,
                }
                let newest = self.state.newest_queued(&self.options.owner).await.unwrap_or(None);
                if newest > self.newest_queued_seen || tokio::time::Instant::now() >= round_ends {
                    self.newest_queued_seen = newest;
                    break;
                }
            }
        }
        self.drain_alerts().await;
        Ok(())
    }

    /// Stops running children and puts them back for a retry that does
    /// not count against their tries.
    pub async fn stop(&mut self) -> store::Result<()> {
        let pids: Vec<u32> = self.running.values().map(|r| r.pid).collect();
        for pid in &pids {
            kill_group(*pid, libc::SIGTERM);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(Ok(finished))) => {
                    let now = self.clock.now();
                    let key = (
                        finished.launch.pipeline.clone(),
                        finished.launch.run_id.clone(),
                        finished.launch.task.clone(),
                    );
                    self.running.remove(&key);
                    if let Some(mut ti) = self
                        .state
                        .task_instances(&key.0, &key.1)
                        .await?
                        .into_iter()
                        .find(|ti| ti.task == key.2)
                    {
                        if finished.exit == Exit::Code(0) {
                            ti.state = TaskState::Success;
                            ti.output = finished.output;
                        } else {
                            ti.state = TaskState::UpForRetry;
                            ti.try_number = ti.try_number.saturating_sub(1);
                            ti.next_attempt_at = Some(ms(now));
                            ti.message = Some("interrupted by a scheduler shutdown".into());
                        }
                        ti.pid = None;
                        ti.ended_at = Some(ms(now));
                        self.state.save(&ti).await?;
                    }
                }
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    for pid in &pids {
                        kill_group(*pid, libc::SIGKILL);
                    }
                    deadline_passed(&mut self.tasks).await;
                    break;
                }
            }
        }
        Ok(())
    }

    async fn drain_alerts(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while self.alerts.join_next().await.is_some() {}
        })
        .await;
    }
}

async fn deadline_passed(tasks: &mut JoinSet<Finished>) {
    let _ =
        tokio::time::timeout(Duration::from_secs(5), async { while tasks.join_next().await.is_some() {} })
            .await;
}
