//! When runs are due: a schedule (cron or a preset, always UTC) cuts time
//! into data intervals, and a run for an interval starts once the interval
//! has ended — Airflow's model, so `ds` is the interval's start.
//!
//! Everything here takes `now` as an argument: the scheduler passes the
//! clock, tests pass whatever time they need.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

/// How many intervals one call may produce: a `catchup` from a start date
/// years back is created over several scheduler ticks, not all at once.
pub const MAX_INTERVALS_PER_CALL: usize = 500;

/// A pipeline's `schedule`: when its data intervals start and end, always in
/// UTC.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Runs only when triggered (no `schedule`, or `schedule: null`).
    Manual,
    /// One run, for the interval that starts at `start_date`.
    Once,
    /// A cron expression or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
    Cron {
        /// The expression as written.
        expression: String,
        /// The parsed expression.
        cron: Box<Cron>,
    },
}

/// A data interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// The first instant of the interval, `ds` in templates.
    pub start: DateTime<Utc>,
    /// The end, not included: the next interval's start. Equal to `start`
    /// for `@once` and for manual runs of unscheduled pipelines.
    pub end: DateTime<Utc>,
}

/// A schedule that is neither a cron expression nor a preset.
#[derive(Debug, thiserror::Error)]
#[error(
    "schedule '{text}' is not a cron expression or @hourly/@daily/@weekly/@monthly/@yearly/@once: {source}"
)]
pub struct ScheduleError {
    text: String,
    source: croner::errors::CronError,
}

impl Schedule {
    /// A cron expression, a preset (`@daily`, `@once`, …), or none (`manual`).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        match text {
            "" | "none" | "None" | "@none" => return Ok(Schedule::Manual),
            "@once" => return Ok(Schedule::Once),
            _ => {}
        }
        let cron = Cron::from_str(text).map_err(|source| ScheduleError { text: text.to_owned(), source })?;
        Ok(Schedule::Cron { expression: text.to_owned(), cron: Box::new(cron) })
    }

    /// The schedule as written, for people and Airflow's `timetable_summary`:
    /// `manual`, `@once` or the cron expression.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Manual => "manual".into(),
            Schedule::Once => "@once".into(),
            Schedule::Cron { expression, .. } => expression.clone(),
        }
    }

    /// The interval that starts at the first schedule time at or after `at`.
    pub fn interval_from(&self, at: DateTime<Utc>) -> Option<Interval> {
        match self {
            Schedule::Cron { cron, .. } => {
                let start = cron.find_next_occurrence(&at, true).ok()?;
                let end = cron.find_next_occurrence(&start, false).ok()?;
                Some(Interval { start, end })
            }
            Schedule::Once => Some(Interval { start: at, end: at }),
            Schedule::Manual => None,
        }
    }

    /// The intervals one after another from the first that starts at or
    /// after `at`, each starting where the one before ended. It ends where
    /// the schedule has no next interval, or stops moving on (`@once`).
    pub fn intervals_from(&self, at: DateTime<Utc>) -> impl Iterator<Item = Interval> + '_ {
        let mut cursor = Some(at);
        std::iter::from_fn(move || {
            let from = cursor?;
            let interval = self.interval_from(from)?;
            cursor = (interval.end > from).then_some(interval.end);
            Some(interval)
        })
    }

    /// The interval a manual run at `at` covers: the last complete one
    /// (for unscheduled pipelines, the instant itself).
    pub fn interval_for_manual(&self, at: DateTime<Utc>) -> Interval {
        match self {
            Schedule::Cron { cron, .. } => {
                let end = cron.find_previous_occurrence(&at, true).ok();
                let start = end.and_then(|e| cron.find_previous_occurrence(&e, false).ok());
                match (start, end) {
                    (Some(start), Some(end)) => Interval { start, end },
                    _ => Interval { start: at, end: at },
                }
            }
            _ => Interval { start: at, end: at },
        }
    }

    /// The interval whose start is the schedule time at or before `date`
    /// (what `--ds DATE` and backfills name).
    pub fn interval_at(&self, date: DateTime<Utc>) -> Interval {
        match self {
            Schedule::Cron { cron, .. } => {
                let start = cron.find_previous_occurrence(&date, true).unwrap_or(date);
                let end = cron.find_next_occurrence(&start, false).unwrap_or(start);
                Interval { start, end }
            }
            _ => Interval { start: date, end: date },
        }
    }
}

/// What a pipeline needs to decide which runs are due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start_date: DateTime<Utc>,
    pub(crate) end_date: Option<DateTime<Utc>>,
    pub(crate) catchup: bool,
}

/// The intervals that have ended by `now` and have no scheduled run yet.
/// `last_end` is the end of the newest interval already scheduled. Without
/// catchup only the most recent complete interval is returned.
pub(crate) fn due_intervals(
    schedule: &Schedule,
    window: Window,
    last_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Interval> {
    if let Schedule::Once = schedule {
        return match last_end {
            None if window.start_date <= now => {
                vec![Interval { start: window.start_date, end: window.start_date }]
            }
            _ => Vec::new(),
        };
    }
    let from = last_end.map_or(window.start_date, |end| end.max(window.start_date));
    let ended =
        |interval: &Interval| interval.end <= now && window.end_date.is_none_or(|end| interval.start <= end);
    let limit = if window.catchup { MAX_INTERVALS_PER_CALL } else { usize::MAX };
    let mut due: Vec<Interval> = schedule.intervals_from(from).take_while(ended).take(limit).collect();
    if !window.catchup && due.len() > 1 {
        due.drain(..due.len() - 1);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn window(start: DateTime<Utc>, catchup: bool) -> Window {
        Window { start_date: start, end_date: None, catchup }
    }

    #[test]
    fn daily_runs_start_when_their_day_ends() {
        let daily = Schedule::parse("@daily").unwrap();
        let w = window(at(2026, 11, 1, 0, 0), true);
        assert!(due_intervals(&daily, w, None, at(2026, 11, 1, 23, 59)).is_empty());
        let due = due_intervals(&daily, w, None, at(2026, 11, 3, 0, 0));
        assert_eq!(
            due,
            [
                Interval { start: at(2026, 11, 1, 0, 0), end: at(2026, 11, 2, 0, 0) },
                Interval { start: at(2026, 11, 2, 0, 0), end: at(2026, 11, 3, 0, 0) },
            ]
        );
        // Nothing twice.
        assert!(due_intervals(&daily, w, Some(at(2026, 11, 3, 0, 0)), at(2026, 11, 3, 12, 0)).is_empty());
    }

    #[test]
    fn without_catchup_only_the_latest_interval_runs() {
        let daily = Schedule::parse("@daily").unwrap();
        let due = due_intervals(&daily, window(at(2026, 1, 1, 0, 0), false), None, at(2026, 11, 22, 14, 0));
        assert_eq!(due, [Interval { start: at(2026, 11, 21, 0, 0), end: at(2026, 11, 22, 0, 0) }]);
    }

    #[test]
    fn a_start_date_off_the_schedule_waits_for_the_first_schedule_time() {
        let weekly = Schedule::parse("@weekly").unwrap();
        // 2026-11-04 is a Wednesday; weeks start on Sunday 2026-11-08.
        let due = due_intervals(&weekly, window(at(2026, 11, 4, 0, 0), true), None, at(2026, 11, 22, 0, 0));
        assert_eq!(
            due,
            [
                Interval { start: at(2026, 11, 8, 0, 0), end: at(2026, 11, 15, 0, 0) },
                Interval { start: at(2026, 11, 15, 0, 0), end: at(2026, 11, 22, 0, 0) },
            ]
        );
    }

    #[test]
    fn cron_edge_cases() {
        // Month ends: the 31st only exists in some months.
        let monthly31 = Schedule::parse("0 0 31 * *").unwrap();
        let i = monthly31.interval_from(at(2026, 11, 1, 0, 0)).unwrap();
        assert_eq!((i.start, i.end), (at(2026, 12, 31, 0, 0), at(2027, 1, 31, 0, 0)));
        // Leap day.
        let leap = Schedule::parse("0 12 29 2 *").unwrap();
        assert_eq!(leap.interval_from(at(2026, 3, 1, 0, 0)).unwrap().start, at(2028, 2, 29, 12, 0));
        // Every 15 minutes, crossing midnight and a year.
        let quarter = Schedule::parse("*/15 * * * *").unwrap();
        let i = quarter.interval_from(at(2026, 12, 31, 23, 50)).unwrap();
        assert_eq!((i.start, i.end), (at(2027, 1, 1, 0, 0), at(2027, 1, 1, 0, 15)));
        // An end date stops the series.
        let daily = Schedule::parse("@daily").unwrap();
        let w = Window {
            start_date: at(2026, 11, 1, 0, 0),
            end_date: Some(at(2026, 11, 2, 0, 0)),
            catchup: true,
        };
        assert_eq!(due_intervals(&daily, w, None, at(2026, 11, 10, 0, 0)).len(), 2);
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("@fortnightly").is_err());
    }

    #[test]
    fn catchup_is_created_in_bounded_batches() {
        let hourly = Schedule::parse("@hourly").unwrap();
        let due = due_intervals(&hourly, window(at(2020, 1, 1, 0, 0), true), None, at(2026, 1, 1, 0, 0));
        assert_eq!(due.len(), MAX_INTERVALS_PER_CALL);
        assert_eq!(due[0].start, at(2020, 1, 1, 0, 0));
    }

    #[test]
    fn once_runs_once_and_manual_never() {
        let w = window(at(2026, 11, 1, 0, 0), false);
        assert_eq!(due_intervals(&Schedule::Once, w, None, at(2026, 11, 2, 0, 0)).len(), 1);
        assert!(
            due_intervals(&Schedule::Once, w, Some(at(2026, 11, 1, 0, 0)), at(2026, 11, 2, 0, 0)).is_empty()
        );
        assert!(due_intervals(&Schedule::Manual, w, None, at(2026, 11, 2, 0, 0)).is_empty());
        // The walk stops where the schedule stops moving on.
        assert_eq!(Schedule::Once.intervals_from(at(2026, 11, 1, 0, 0)).take(5).count(), 1);
        assert_eq!(Schedule::Manual.intervals_from(at(2026, 11, 1, 0, 0)).count(), 0);
        let daily = Schedule::parse("@daily").unwrap();
        let days: Vec<Interval> = daily.intervals_from(at(2026, 11, 1, 0, 0)).take(3).collect();
        assert!(days.windows(2).all(|pair| pair[0].end == pair[1].start), "{days:?}");
    }

    #[test]
    fn ds_names_the_interval_that_starts_on_it() {
        let weekly = Schedule::parse("@weekly").unwrap();
        let i = weekly.interval_at(at(2026, 11, 10, 0, 0));
        assert_eq!((i.start, i.end), (at(2026, 11, 8, 0, 0), at(2026, 11, 15, 0, 0)));
        let manual = weekly.interval_for_manual(at(2026, 11, 22, 14, 0));
        assert_eq!((manual.start, manual.end), (at(2026, 11, 15, 0, 0), at(2026, 11, 22, 0, 0)));
    }
}
