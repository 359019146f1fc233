//! Training progress on the terminal: an indicatif bar when stderr is a
//! terminal, a log line every tenth of the way otherwise (so CI logs and
//! task log files stay short).

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use retrain_ml::Progress;

pub(crate) struct TrainingProgress {
    bar: Option<ProgressBar>,
    state: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    total: u64,
    unit: String,
    next_log: u64,
}

impl TrainingProgress {
    pub(crate) fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} {msg} [{elapsed_precise}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        TrainingProgress { bar, state: Mutex::new(LogState::default()) }
    }
}

fn describe(metrics: &[(&str, f64)]) -> String {
    metrics.iter().map(|(k, v)| format!("{k}={v:.4}")).collect::<Vec<_>>().join(" ")
}

impl Progress for TrainingProgress {
    fn start(&self, total: u64, unit: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_message(unit.to_owned());
        }
        if let Ok(mut state) = self.state.lock() {
            *state = LogState { total, unit: unit.to_owned(), next_log: total.div_ceil(10).max(1) };
        }
    }

    fn update(&self, done: u64, metrics: &[(&str, f64)]) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            if !metrics.is_empty() {
                bar.set_message(describe(metrics));
            }
            return;
        }
        if let Ok(mut state) = self.state.lock()
            && (done >= state.next_log || done == state.total)
        {
            tracing::info!("{done}/{} {} {}", state.total, state.unit, describe(metrics));
            state.next_log = done + state.total.div_ceil(10).max(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
