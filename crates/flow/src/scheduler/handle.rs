//! What the rest of a process holds of its running scheduler.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// What the rest of a process shares with its running scheduler: a way
/// to wake it when a run was queued (so an API trigger starts at once,
/// not at the next look at the database), and when it last went round.
#[derive(Debug, Default)]
pub struct SchedulerHandle {
    pub(super) wake: tokio::sync::Notify,
    pub(super) heartbeat_ms: AtomicI64,
}

impl SchedulerHandle {
    /// Makes the scheduler start a round now (or right after the current one).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// When the scheduler last started a round; `None` before its first.
    pub fn last_heartbeat(&self) -> Option<DateTime<Utc>> {
        match self.heartbeat_ms.load(Ordering::Relaxed) {
            0 => None,
            at => DateTime::from_timestamp_millis(at),
        }
    }
}
