//! How runs come to be, beside the scheduler that creates scheduled ones:
//! a run asked for by hand, a backfill of past intervals, the first
//! start's bootstrap, and the foreground driver that takes runs to their
//! end in the asking process. It joins what a pipeline file says (its
//! schedule) with what the database keeps (a run), so that neither
//! [`crate::pipeline`] nor [`crate::store`] needs the other.

use std::sync::Arc;

use chrono::{DateTime, Duration as Days, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::Project;
use crate::executor::Launcher;
use crate::pipeline::Pipeline;
use crate::schedule::Interval;
use crate::scheduler::{Options, Scheduler, SystemClock};
use crate::state::{PipelineRun, RunState, RunType, TaskInstance};
use crate::store::{self, PipelineStore};

/// The most intervals one backfill may cover.
pub const MAX_BACKFILL_INTERVALS: usize = 10_000;

impl PipelineRun {
    /// A run asked for by hand (`retrain pipelines trigger`, the REST
    /// API), queued for `owner`: it covers the interval that starts at
    /// `logical_date`, or without one the last complete interval before now.
    pub fn manual(
        pipeline: &Pipeline,
        logical_date: Option<DateTime<Utc>>,
        conf: Map<String, Value>,
        owner: &str,
        now: DateTime<Utc>,
    ) -> PipelineRun {
        let interval = match logical_date {
            Some(date) => pipeline.schedule.interval_at(date),
            None => pipeline.schedule.interval_for_manual(now),
        };
        PipelineRun::queued(&pipeline.name, RunType::Manual, interval, conf, owner, now)
    }
}

/// Why a range of dates cannot be backfilled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackfillError {
    /// The range ends before it starts.
    #[error("the end of the range ({to}) is before its start ({from})")]
    Reversed {
        /// The range's start date (`YYYY-MM-DD`).
        from: String,
        /// The range's end date, before `from`.
        to: String,
    },
    /// The pipeline has no schedule time in the range, or no schedule at all.
    #[error(
        "pipeline '{pipeline}' has no schedule ({schedule}) to cut {from}..{to} into intervals; run single dates with `pipelines run --ds`"
    )]
    NoIntervals {
        /// The pipeline's name.
        pipeline: String,
        /// Its schedule as written (`manual`, `@once`).
        schedule: String,
        /// The range's start date (`YYYY-MM-DD`).
        from: String,
        /// The range's end date.
        to: String,
    },
}

/// The pipeline's intervals that start between `from` and `to`
/// (inclusive), at most [`MAX_BACKFILL_INTERVALS`].
pub fn backfill_intervals(
    pipeline: &Pipeline,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Interval>, BackfillError> {
    let day = |d: DateTime<Utc>| d.date_naive().to_string();
    if to < from {
        return Err(BackfillError::Reversed { from: day(from), to: day(to) });
    }
    let intervals: Vec<Interval> = pipeline
        .schedule
        .intervals_from(from)
        .take_while(|interval| interval.start <= to)
        .take(MAX_BACKFILL_INTERVALS)
        .collect();
    if intervals.is_empty() {
        return Err(BackfillError::NoIntervals {
            pipeline: pipeline.name.clone(),
            schedule: pipeline.schedule.describe(),
            from: day(from),
            to: day(to),
        });
    }
    Ok(intervals)
}

/// retrain.yaml's `bootstrap`: the pipeline whose last days the first
/// `retrain up` backfills, so the others have data to work on at once.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// The pipeline to backfill.
    pub pipeline: String,
    /// How many days before today.
    pub days: u32,
}

/// On the first start (the bootstrap pipeline has no run yet), queues one
/// backfill run for each of the last `days` days for `owner`; returns how
/// many were queued. A bootstrap pipeline that is not among `pipelines` is
/// skipped with a warning.
pub async fn bootstrap(
    setting: &Bootstrap,
    pipelines: &[Pipeline],
    store: &PipelineStore,
    owner: &str,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let Some(pipeline) = pipelines.iter().find(|p| p.name == setting.pipeline) else {
        tracing::warn!("bootstrap: no pipeline named '{}' loaded; nothing backfilled", setting.pipeline);
        return Ok(0);
    };
    if store.has_runs(&pipeline.name).await? {
        return Ok(0);
    }
    let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let mut queued = 0;
    for days_back in (1..=i64::from(setting.days)).rev() {
        let interval = pipeline.schedule.interval_at(today - Days::days(days_back));
        let run = PipelineRun::queued(&pipeline.name, RunType::Backfill, interval, Map::new(), owner, now);
        if store.insert_run(&run).await? {
            queued += 1;
        }
    }
    tracing::info!("first start: backfilling the last {} days of {}", setting.days, pipeline.name);
    Ok(queued)
}

/// One run a foreground command drove, as it ended.
#[derive(Debug, Clone)]
pub struct DrivenRun {
    /// The run's id.
    pub run_id: String,
    /// `None` if the run's row is gone (deleted while it ran).
    pub state: Option<RunState>,
    /// Its task instances as they ended.
    pub instances: Vec<TaskInstance>,
}

/// What a foreground command did: the runs it drove, and the intervals
/// it skipped because they already had a run.
#[derive(Debug, Clone, Default)]
pub struct Driven {
    /// The runs created and driven, in the order of their intervals.
    pub runs: Vec<DrivenRun>,
    /// Intervals not run because a run for them already existed.
    pub skipped: Vec<Interval>,
}

impl Driven {
    /// How many of the driven runs did not succeed.
    pub fn failures(&self) -> usize {
        self.runs.iter().filter(|r| r.state != Some(RunState::Success)).count()
    }
}

/// Creates a run of `pipeline` for each of `intervals` and drives them to
/// their end in this process, with a scheduler of its own (owner
/// `cli-PID`, so the one of `retrain up` leaves them alone), until they
/// end or `interrupt` fires.
pub async fn run_in_foreground(
    project: &Project,
    pipeline: &Pipeline,
    store: PipelineStore,
    launcher: Launcher,
    intervals: Vec<(RunType, Interval)>,
    conf: Map<String, Value>,
    interrupt: watch::Receiver<bool>,
) -> store::Result<Driven> {
    let owner = format!("cli-{}", std::process::id());
    let options = Options { owner, create_scheduled_runs: false, parallelism: project.config.parallelism };
    let mut scheduler =
        Scheduler::new(project, vec![pipeline.clone()], store, launcher, Arc::new(SystemClock), options);
    let mut driven = Driven::default();
    let mut run_ids = Vec::new();
    for (run_type, interval) in intervals {
        match scheduler.create_run(pipeline, run_type, interval, conf.clone()).await? {
            Some(run_id) => run_ids.push(run_id),
            None => driven.skipped.push(interval),
        }
    }
    scheduler.run(true, interrupt).await?;
    for run_id in run_ids {
        let store = scheduler.store();
        let state = store.get_run(&pipeline.name, &run_id).await?.map(|r| r.state);
        let instances = store.task_instances(&pipeline.name, &run_id).await?;
        driven.runs.push(DrivenRun { run_id, state, instances });
    }
    Ok(driven)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn daily() -> Pipeline {
        let text =
            "name: p\nschedule: '@daily'\nstart_date: 2026-11-01\ntasks:\n  a: {op: shell, command: x}\n";
        crate::pipeline::parse(text, Path::new("p.yaml")).unwrap()
    }

    fn date(text: &str) -> DateTime<Utc> {
        crate::pipeline::parse_date(text).unwrap()
    }

    #[test]
    fn a_backfill_covers_every_interval_that_starts_in_the_range() {
        let intervals = backfill_intervals(&daily(), date("2026-11-15"), date("2026-11-21")).unwrap();
        let starts: Vec<String> = intervals.iter().map(|i| i.start.date_naive().to_string()).collect();
        assert_eq!(starts.first().map(String::as_str), Some("2026-11-15"));
        assert_eq!(starts.last().map(String::as_str), Some("2026-11-21"));
        assert_eq!(starts.len(), 7);
        assert!(matches!(
            backfill_intervals(&daily(), date("2026-11-21"), date("2026-11-15")),
            Err(BackfillError::Reversed { .. })
        ));
        let mut manual = daily();
        manual.schedule = crate::schedule::Schedule::Manual;
        let refused = backfill_intervals(&manual, date("2026-11-15"), date("2026-11-21")).unwrap_err();
        assert!(refused.to_string().contains("pipelines run --ds"), "{refused}");
    }
}
