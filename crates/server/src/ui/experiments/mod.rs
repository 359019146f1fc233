//! The experiments' pages: the list, an experiment's runs table, a run
//! with its metric charts and artifacts, and runs compared side by side.
//!
//! Each page has its module; this one holds what they share: the
//! addresses pages link to, how a store's refusal becomes a page, and
//! the metric histories the run and compare pages chart.

mod artifacts;
mod compare;
mod list;
mod run;
mod runs;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use retrain_registry::entities::{Metric, Run};
use retrain_registry::{Role, SqlStore};
use serde::Deserialize;

use super::chart::{Chart, MAX_POINTS};
use super::render::error_page;
use super::{Ui, store_refusal};
use crate::routes::{GET, Routes};

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("experiments/list.html", include_str!("../templates/experiments/list.html")),
    ("experiments/runs.html", include_str!("../templates/experiments/runs.html")),
    ("experiments/run.html", include_str!("../templates/experiments/run.html")),
    ("experiments/compare.html", include_str!("../templates/experiments/compare.html")),
];

/// This section's pages.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    use Role::Viewer;
    Routes::new()
        .to(GET, "/experiments", Viewer, list::list)
        .to(GET, "/experiments/compare", Viewer, compare::compare)
        .to(GET, "/experiments/{id}", Viewer, runs::runs)
        .to(GET, "/experiments/{id}/runs/{run_id}", Viewer, run::run)
        .to(GET, "/experiments/{id}/runs/{run_id}/artifact", Viewer, artifacts::file)
}

/// An experiment's runs table.
fn experiment_href(experiment_id: &str) -> String {
    format!("/experiments/{}", super::encode(experiment_id))
}

/// A run's page.
pub(super) fn run_href(experiment_id: &str, run_id: &str) -> String {
    format!("{}/runs/{}", experiment_href(experiment_id), super::encode(run_id))
}

/// The run `run_id` of experiment `experiment_id`, or a page saying
/// there is no such run there.
async fn run_in(ui: &Ui, experiment_id: &str, run_id: &str) -> Result<Run, Box<Response>> {
    match ui.store.get_run(run_id).await {
        Ok(run) if run.info.experiment_id == experiment_id => Ok(run),
        Ok(_) => Err(Box::new(error_page(
            StatusCode::NOT_FOUND,
            &format!("Experiment {experiment_id} has no run '{run_id}'."),
        ))),
        Err(e) => Err(Box::new(store_refusal(&e))),
    }
}

/// How a page draws metric histories: over steps or time, on a linear or
/// logarithmic scale; kept in the page's address.
#[derive(Debug, Default, Deserialize)]
struct ChartOptions {
    /// `time` puts the moment each value was logged on the x axis.
    #[serde(default)]
    x: Option<String>,
    /// `1` draws y on a logarithmic scale.
    #[serde(default)]
    log: Option<String>,
}

impl ChartOptions {
    fn over_time(&self) -> bool {
        self.x.as_deref() == Some("time")
    }

    fn log_scale(&self) -> bool {
        self.log.as_deref() == Some("1")
    }

    /// An empty chart of `key`, titled and scaled as asked.
    fn chart(&self, key: &str) -> Chart {
        let chart = Chart::new(key).y_label(key).log_y(self.log_scale());
        if self.over_time() { chart.time_x().x_label("time (UTC)") } else { chart.x_label("step") }
    }

    /// The points of `history` on the chosen x axis.
    fn points(&self, history: &[Metric]) -> Vec<(f64, f64)> {
        let over_time = self.over_time();
        history.iter().map(|m| (if over_time { m.timestamp } else { m.step } as f64, m.value)).collect()
    }
}

/// Points of one history read at most: past the charts' own limit, so a
/// thinned line says how many points it was thinned from.
const HISTORY_POINTS: usize = 10 * MAX_POINTS;

/// Every logged point of `key` in `run_id`, up to [`HISTORY_POINTS`].
async fn metric_history(store: &SqlStore, run_id: &str, key: &str) -> retrain_registry::Result<Vec<Metric>> {
    let mut points = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (page, next) = store.get_metric_history(run_id, key, None, token.as_deref()).await?;
        points.extend(page);
        match next {
            Some(next) if points.len() < HISTORY_POINTS => token = Some(next),
            _ => return Ok(points),
        }
    }
}
