//! How runs come to be, beside the scheduler that creates scheduled ones:
//! a run asked for by hand. It joins what a pipeline file says (its
//! schedule) with what the database keeps (a run), so that neither
//! [`crate::pipeline`] nor [`crate::state`] needs the other.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::pipeline::Pipeline;
use crate::state::{PipelineRun, RunType};

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
