//! Pipeline files: YAML read with serde (unknown keys rejected at every
//! level), then checked as a whole (task names, `needs`, cycles, each
//! task's arguments, template variables) so that a mistake is reported
//! with its file and line before anything runs — the equivalent of
//! Airflow's DAG-import test.
//!
//! [`check`] reads a file key by key and checks it to its end; [`text`]
//! holds the values pipeline files and commands share (dates, durations).

mod check;
mod text;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::schedule::Schedule;

pub use check::COMMON_KEYS;
pub(crate) use check::{Checked, check};
pub use text::{BadDate, BadDuration, parse_date, parse_duration, yaml_error};

/// One mistake in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The line it is on, when the mistake has one.
    pub line: Option<u32>,
    /// What is wrong, as the user reads it.
    pub message: String,
}

/// Every mistake found in one pipeline file, in line order: a file is
/// checked to the end, so one fault does not hide the next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PipelineError {
    /// The file, as the user named it or relative to the project directory.
    pub file: PathBuf,
    /// The mistakes, at least one, sorted by line (those without a line first).
    pub faults: Vec<Fault>,
}

impl PipelineError {
    /// A file with a single fault (it cannot be read, its name is taken).
    pub fn single(file: &Path, line: Option<u32>, message: impl Into<String>) -> PipelineError {
        PipelineError { file: file.to_path_buf(), faults: vec![Fault { line, message: message.into() }] }
    }

    fn from_faults(file: &Path, mut faults: Vec<Fault>) -> PipelineError {
        faults.sort_by_key(|f| f.line);
        PipelineError { file: file.to_path_buf(), faults }
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fault) in self.faults.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match fault.line {
                Some(line) => write!(f, "{}:{line}: {}", self.file.display(), fault.message)?,
                None => write!(f, "{}: {}", self.file.display(), fault.message)?,
            }
        }
        Ok(())
    }
}

/// A checked pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline's name (`name:`), unique in a project; runs, logs and the
    /// REST API know it by this.
    pub name: String,
    /// What the pipeline is for; empty when the file says nothing.
    pub description: String,
    /// The file it was read from, relative to the project directory.
    pub file: PathBuf,
    /// When runs are due; [`Schedule::Manual`] without `schedule:`.
    pub schedule: Schedule,
    /// The start of the first data interval (`start_date:`, midnight UTC for a
    /// bare date).
    pub start_date: DateTime<Utc>,
    /// No interval starting after this is scheduled; `None` schedules forever.
    pub end_date: Option<DateTime<Utc>>,
    /// Whether every missed interval since `start_date` gets a run, or only the
    /// latest (Airflow's `catchup`, off by default).
    pub catchup: bool,
    /// Runs of this pipeline running at once, at least 1 (the default).
    pub max_active_runs: u32,
    /// Notification channels alerted when a task instance fails for good.
    pub on_failure: Vec<String>,
    /// Notification channels told when a run succeeds.
    pub on_success: Vec<String>,
    /// Defaults for `{{ params.X }}`; a run's `conf` overrides them.
    pub params: Map<String, Value>,
    /// Tasks in file order.
    pub tasks: IndexMap<String, Task>,
}

/// How often and how long to retry a failed task instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries after the first (0 by default).
    pub retries: u32,
    /// The wait before the first retry (`retry_delay`, 5 minutes by default).
    pub delay: Duration,
    /// Whether the wait doubles with each retry (`retry_exponential_backoff`).
    pub exponential_backoff: bool,
    /// The longest wait with backoff (`max_retry_delay`, a day by default).
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before try `next_try` (2 for the first retry).
    pub fn delay_before(&self, next_try: u32) -> Duration {
        if !self.exponential_backoff {
            return self.delay;
        }
        let doublings = next_try.saturating_sub(2).min(30);
        self.delay.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// When a task runs, given its upstream tasks' final states (Airflow's
/// trigger rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    /// Every upstream task succeeded (the default); a failure upstream makes
    /// this task upstream-failed, a skip skips it.
    #[default]
    AllSuccess,
    /// Every upstream task finished, whatever its state.
    AllDone,
    /// At least one upstream task failed; the task is skipped if none did.
    OneFailed,
    /// No upstream task failed; skipped ones count as done.
    NoneFailed,
}

/// One task of a pipeline, checked, with `default_args` applied.
#[derive(Debug, Clone)]
pub struct Task {
    /// The task's key under `tasks:`.
    pub name: String,
    /// Line of the task's key in its file.
    pub line: u32,
    /// The tasks directly upstream (`needs:`), whose final states the
    /// trigger rule reads.
    pub needs: Vec<String>,
    /// When the task runs, given how its upstream tasks ended.
    pub trigger_rule: TriggerRule,
    /// How often and how long apart failed tries are retried.
    pub retry: RetryPolicy,
    /// Wall-clock limit of one try (one poke for a sensor).
    pub timeout: Option<Duration>,
    /// Sensors: wait between pokes and give up after `sensor_timeout`.
    pub sensor: Option<SensorTiming>,
    /// `op: train`, `sensor: file` or `gate`.
    pub kind: String,
    /// The task's own arguments, templates not yet rendered.
    pub args: Map<String, Value>,
}

/// How a sensor pokes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorTiming {
    /// The wait between two pokes (`poke_interval`, 30 seconds by default).
    pub poke_interval: Duration,
    /// How long after the first poke the sensor gives up (its `timeout`, a day
    /// by default).
    pub timeout: Duration,
    /// At the timeout the sensor is skipped instead of failed.
    pub soft_fail: bool,
}

const DEFAULT_POKE_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_SENSOR_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Parses and checks pipeline text; `file` is used in errors only.
pub fn parse(text: &str, file: &Path) -> Result<Pipeline, PipelineError> {
    check(text, file)?.finish()
}

impl Pipeline {
    /// Every task `name` depends on, directly or not.
    pub fn upstream_of(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = vec![name];
        while let Some(current) = stack.pop() {
            for need in self.tasks.get(current).map(|t| t.needs.as_slice()).unwrap_or_default() {
                if seen.insert(need.clone()) {
                    stack.push(need);
                }
            }
        }
        seen
    }

    /// Every task that depends on `name`, directly or not.
    pub fn downstream_of(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.to_owned()];
        while let Some(current) = stack.pop() {
            for task in self.tasks.values() {
                if task.needs.contains(&current) && seen.insert(task.name.clone()) {
                    stack.push(task.name.clone());
                }
            }
        }
        seen
    }
}
