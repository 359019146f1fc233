//! What the scheduler keeps of a pipeline's runs: the runs and their task
//! instances, and the states and kinds they go through, each spelled in
//! one place (Airflow's names, `strum`). [`crate::store`] keeps them in
//! the metadata database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use strum::{AsRefStr, Display, EnumString, IntoStaticStr, VariantNames};

use crate::schedule::Interval;

/// A task instance's state, Airflow's names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, AsRefStr, Display, EnumString, IntoStaticStr, VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum TaskState {
    /// Waiting for its upstream tasks.
    #[strum(serialize = "none")]
    NoState,
    /// Ready to start once a slot is free.
    Scheduled,
    /// Handed to the executor.
    Queued,
    /// Its process is running.
    Running,
    /// Its last try succeeded.
    Success,
    /// It failed with no try left, or its sensor timed out.
    Failed,
    /// Failed, with a try left after the retry delay.
    UpForRetry,
    /// A sensor between two pokes.
    UpForReschedule,
    /// Ended without doing its work: the task asked for it (exit 99), a
    /// gate or its trigger rule ruled it out, or a soft-fail sensor timed out.
    Skipped,
    /// Not run because an upstream task failed.
    UpstreamFailed,
}

impl TaskState {
    /// The state's text, as the database and Airflow's API spell it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the instance reached an end (no more tries).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failed | TaskState::Skipped | TaskState::UpstreamFailed
        )
    }
}

/// A pipeline run's state, Airflow's names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, AsRefStr, Display, EnumString, IntoStaticStr, VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunState {
    /// Created, waiting for its owner to start it.
    Queued,
    /// Started: its task instances are being scheduled.
    Running,
    /// Ended with every task instance succeeded or skipped (see
    /// [`crate::scheduler::run_outcome`]).
    Success,
    /// Ended with a task instance failed or upstream-failed.
    Failed,
}

/// How a run came to be, Airflow's names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, AsRefStr, Display, EnumString, IntoStaticStr, VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunType {
    /// Created by the scheduler for a due interval.
    Scheduled,
    /// Asked for by hand: `pipelines run`, `pipelines trigger`, the REST API.
    Manual,
    /// One of a range of past intervals (`pipelines backfill`, the first start).
    Backfill,
}

/// A run of a pipeline for one data interval, as the `pipeline_runs` table
/// keeps it (Airflow's DAG run).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRun {
    /// The pipeline's name.
    pub pipeline: String,
    /// The run's id, unique within the pipeline
    /// (`scheduled__2026-11-01T00:00:00Z`, `manual__…`).
    pub run_id: String,
    /// How the run came to be.
    pub run_type: RunType,
    /// Where the run is in its life.
    pub state: RunState,
    /// The start of the data interval the run covers (`ds`).
    pub interval_start: DateTime<Utc>,
    /// The end of the data interval, not included.
    pub interval_end: DateTime<Utc>,
    /// Values laid over the pipeline's `params` for this run (Airflow's
    /// `conf`).
    pub conf: Map<String, Value>,
    /// Which scheduler drives the run: `scheduler` (retrain up) or a
    /// foreground command.
    pub owner: String,
    /// When the run was created, in ms since the epoch.
    pub created_at: i64,
    /// When the run was started, in ms since the epoch; `None` while queued.
    pub started_at: Option<i64>,
    /// When the run ended, in ms since the epoch; `None` until it has.
    pub ended_at: Option<i64>,
}

/// One task of one run, as the `task_instances` table keeps it (Airflow's task
/// instance); it is created in [`TaskState::NoState`] when its run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInstance {
    /// The pipeline's name.
    pub pipeline: String,
    /// The run it belongs to.
    pub run_id: String,
    /// The task's name in the pipeline.
    pub task: String,
    /// Where the instance is in its life.
    pub state: TaskState,
    /// Tries started so far.
    pub try_number: u32,
    /// Tries allowed in all: the task's `retries` plus one.
    pub max_tries: u32,
    /// When a retry or the next poke may start (epoch ms).
    pub next_attempt_at: Option<i64>,
    /// When the first try started, in ms since the epoch; a sensor's timeout
    /// counts from it.
    pub first_started_at: Option<i64>,
    /// When the current or last try started, in ms since the epoch.
    pub started_at: Option<i64>,
    /// When the last try ended, in ms since the epoch; `None` while one runs.
    pub ended_at: Option<i64>,
    /// The process id (and process group) of the running try's child; `None`
    /// when none runs.
    pub pid: Option<i64>,
    /// The last try's exit code; `None` when it was killed, timed out, or has
    /// not ended.
    pub exit_code: Option<i64>,
    /// Why the instance is where it is, for people: the failure, the skip
    /// reason, a sensor's last poke.
    pub message: Option<String>,
    /// What the task returned (`outputs.TASK` downstream), once it succeeded.
    pub output: Option<Value>,
}

impl PipelineRun {
    /// A new queued run. Its id says how it came (`scheduled__`,
    /// `backfill__` + the interval's start, `manual__` + the moment), so a
    /// scheduled or backfilled interval cannot get two runs.
    pub fn queued(
        pipeline: &str,
        run_type: RunType,
        interval: Interval,
        conf: Map<String, Value>,
        owner: &str,
        now: DateTime<Utc>,
    ) -> PipelineRun {
        let run_id = match run_type {
            RunType::Manual => {
                format!("manual__{}", now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }
            RunType::Scheduled | RunType::Backfill => {
                format!("{run_type}__{}", interval.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
        };
        PipelineRun {
            pipeline: pipeline.to_owned(),
            run_id,
            run_type,
            state: RunState::Queued,
            interval_start: interval.start,
            interval_end: interval.end,
            conf,
            owner: owner.to_owned(),
            created_at: now.timestamp_millis(),
            started_at: None,
            ended_at: None,
        }
    }
}

/// What runs can be listed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOrder {
    /// By creation time.
    Created,
    /// By the start of the data interval.
    IntervalStart,
    /// By the end of the data interval.
    IntervalEnd,
    /// By when the run started.
    Started,
    /// By when the run ended.
    Ended,
    /// By run id, as text.
    RunId,
    /// By state, as text.
    State,
}

impl RunOrder {
    pub(crate) fn column(self) -> &'static str {
        match self {
            RunOrder::Created => "created_at",
            RunOrder::IntervalStart => "interval_start",
            RunOrder::IntervalEnd => "interval_end",
            RunOrder::Started => "started_at",
            RunOrder::Ended => "ended_at",
            RunOrder::RunId => "run_id",
            RunOrder::State => "state",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_spelled_as_airflow_spells_them_and_unknown_text_is_refused() {
        assert_eq!(TaskState::NoState.as_str(), "none");
        assert_eq!(TaskState::UpForReschedule.as_str(), "up_for_reschedule");
        assert_eq!("upstream_failed".parse::<TaskState>(), Ok(TaskState::UpstreamFailed));
        assert_eq!("queued".parse::<RunState>(), Ok(RunState::Queued));
        assert_eq!(RunType::Backfill.to_string(), "backfill");
        assert_eq!(serde_json::to_value(RunState::Success).unwrap(), "success");
        assert_eq!(serde_json::to_value(RunType::Manual).unwrap(), "manual");
        assert!("done".parse::<TaskState>().is_err());
        assert!("paused".parse::<RunState>().is_err());
        let broken = retrain_registry::stored::<RunType>("run type", "cron").unwrap_err();
        assert_eq!(broken.code, retrain_registry::ErrorCode::InternalError);
    }
}
