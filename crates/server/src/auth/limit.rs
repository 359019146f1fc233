//! Failed sign-ins counted per user and per client address, so guessing a
//! password is slowed to [`MAX_FAILURES`] tries a minute for each, whoever
//! tries and from wherever.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in one [`WINDOW`] before further tries are refused.
pub(crate) const MAX_FAILURES: usize = 10;

/// How far back failures count.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// Past this many keys, those with no failure left in the window go.
const SWEEP_ABOVE: usize = 10_000;

/// Recent failures by key (`user:NAME`, `address:IP`).
#[derive(Debug, Default)]
pub(crate) struct FailedLogins {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailedLogins {
    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long to wait before trying again, when any of `keys` has used
    /// up its failures.
    pub(crate) fn retry_after(&self, keys: &[String], now: Instant) -> Option<Duration> {
        let mut failures = self.failures();
        keys.iter()
            .filter_map(|key| {
                let times = failures.get_mut(key)?;
                while times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    times.pop_front();
                }
                (times.len() >= MAX_FAILURES).then(|| WINDOW - now.duration_since(times[0]))
            })
            .max()
    }

    /// Counts one failure against each of `keys`.
    pub(crate) fn record(&self, keys: &[String], now: Instant) {
        let mut failures = self.failures();
        if failures.len() >= SWEEP_ABOVE {
            failures.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for key in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            if times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_in_a_minute_waits_for_the_first_to_age_out() {
        let limits = FailedLogins::default();
        let start = Instant::now();
        let keys = vec!["user:ana".to_owned(), "address:127.0.0.1".to_owned()];
        for i in 0..MAX_FAILURES {
            assert_eq!(limits.retry_after(&keys, start), None, "try {i}");
            limits.record(&keys, start + Duration::from_secs(i as u64));
        }
        let later = start + Duration::from_secs(15);
        assert_eq!(limits.retry_after(&keys, later), Some(Duration::from_secs(45)));
        // Another user from another address is not held up.
        assert_eq!(limits.retry_after(&["user:bo".into(), "address:10.0.0.2".into()], later), None);
        // Once the first failure is a minute old, one more try is allowed.
        assert_eq!(limits.retry_after(&keys, start + WINDOW), None);
    }
}
