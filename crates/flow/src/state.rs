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
    Success,
    Failed,
    /// Failed, with a try left after the retry delay.
    UpForRetry,
    /// A sensor between two pokes.
    UpForReschedule,
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
    Running,
    Success,
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

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRun {
    pub pipeline: String,
    pub run_id: String,
    pub run_type: RunType,
    pub state: RunState,
    pub interval_start: DateTime<Utc>,
    pub interval_end: DateTime<Utc>,
    pub conf: Map<String, Value>,
    /// Which scheduler drives the run: `scheduler` (retrain up) or a
    /// foreground command.
    pub owner: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskInstance {
    pub pipeline: String,
    pub run_id: String,
    pub task: String,
    pub state: TaskState,
    /// Tries started so far.
    pub try_number: u32,
    pub max_tries: u32,
    /// When a retry or the next poke may start (epoch ms).
    pub next_attempt_at: Option<i64>,
    pub first_started_at: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub message: Option<String>,
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
    Created,
    IntervalStart,
    IntervalEnd,
    Started,
    Ended,
    RunId,
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
