//! Training progress: what a learner reports while it fits, and the
//! history it leaves behind.
//!
//! Iterative learners report one step per iteration (boosting rounds,
//! optimizer iterations) or per batch of trees, with the metric they track
//! (out-of-bag accuracy, training loss). The front end decides how to show
//! steps (a progress bar, log lines); the [`History`] is kept with the model
//! so tracking can plot the training process later.

use serde::{Deserialize, Serialize};

/// Receives progress while a model trains. All methods default to nothing.
pub trait Progress: Sync {
    /// Training starts; `total` steps of `unit` (e.g. "trees") are expected.
    fn start(&self, _total: u64, _unit: &str) {}
    /// `done` steps are finished; `metrics` are the values at this step.
    fn update(&self, _done: u64, _metrics: &[(&str, f64)]) {}
    /// Training ended (possibly early, e.g. by early stopping).
    fn finish(&self) {}
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// The history metric a bagged forest reports after each batch of trees:
/// the accuracy on the rows those trees did not see.
pub(crate) const OUT_OF_BAG_ACCURACY: &str = "oob_accuracy";

/// The per-step metrics of one fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// What a step is: "trees", "iterations".
    pub unit: String,
    /// Every recorded value, in step order.
    pub points: Vec<HistoryPoint>,
    /// Things the user should know about the fit, e.g. an optimizer that
    /// stopped at `max_iter` before converging.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One metric's value after one step of a fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Steps done, counting from 1, in the history's `unit`.
    pub step: u64,
    /// What was measured, e.g. `oob_accuracy`, `train_log_loss`.
    pub metric: String,
    /// The value after `step` steps.
    pub value: f64,
}

/// Forwards steps to a [`Progress`] and records them in a [`History`].
pub(crate) struct Recorder<'a> {
    progress: &'a dyn Progress,
    history: History,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(progress: &'a dyn Progress, total: u64, unit: &str) -> Self {
        progress.start(total, unit);
        Recorder {
            progress,
            history: History { unit: unit.to_owned(), points: Vec::new(), warnings: Vec::new() },
        }
    }

    pub(crate) fn record(&mut self, step: u64, metrics: &[(&str, f64)]) {
        for (name, value) in metrics {
            self.history.points.push(HistoryPoint { step, metric: (*name).to_owned(), value: *value });
        }
        self.progress.update(step, metrics);
    }

    pub(crate) fn warn(&mut self, warning: String) {
        self.history.warnings.push(warning);
    }

    pub(crate) fn finish(self) -> History {
        self.progress.finish();
        self.history
    }
}
