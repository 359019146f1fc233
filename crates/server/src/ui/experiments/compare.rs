//! Runs compared side by side (`/experiments/compare?runs=A&runs=B…`):
//! their params with the rows that differ marked, their metrics, and each
//! metric's history of every run drawn on one chart.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use retrain_registry::entities::Run;
use serde::{Deserialize, Serialize};

use super::{ChartOptions, metric_history, run_href};
use crate::ui::render::{error_page, num, render};
use crate::ui::store_refusal;
use crate::ui::{Ui, Viewer, page_context};

/// Runs compared at once, at least and at most.
const FEWEST: usize = 2;
const MOST: usize = 10;
/// Metrics charted at most.
const CHARTS_SHOWN: usize = 24;

#[derive(Deserialize)]
struct CompareQuery {
    #[serde(default)]
    runs: Vec<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    log: Option<String>,
}

#[derive(Serialize)]
struct RunColumn {
    name: String,
    href: String,
    status: String,
}

/// One key's values across the runs.
#[derive(Serialize)]
struct Row {
    key: String,
    values: Vec<Option<String>>,
    differs: bool,
}

/// `GET /experiments/compare`.
pub(super) async fn compare(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let query: CompareQuery = match serde_html_form::from_str(query.as_deref().unwrap_or("")) {
        Ok(query) => query,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &format!("The address does not read: {e}.")),
    };
    let mut ids: Vec<String> = Vec::new();
    for id in query.runs.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
        if !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_owned());
        }
    }
    if !(FEWEST..=MOST).contains(&ids.len()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "Compare {FEWEST} to {MOST} runs: tick them in an experiment's runs table ({} chosen).",
                ids.len()
            ),
        );
    }
    let mut runs = Vec::with_capacity(ids.len());
    for id in &ids {
        match ui.store.get_run(id).await {
            Ok(run) => runs.push(run),
            Err(e) => return store_refusal(&e),
        }
    }
    let options = ChartOptions { x: query.x, log: query.log };
    let params = rows(
        &runs,
        |run, key| run.data.params.iter().find(|p| p.key == key).map(|p| p.value.clone()),
        |run| run.data.params.iter().map(|p| p.key.clone()).collect(),
    );
    let metrics = rows(
        &runs,
        |run, key| run.data.metrics.iter().find(|m| m.key == key).map(|m| num(Value::from(m.value))),
        |run| run.data.metrics.iter().map(|m| m.key.clone()).collect(),
    );
    let mut charts = Vec::new();
    for row in metrics.iter().take(CHARTS_SHOWN) {
        let mut chart = options.chart(&row.key);
        let mut drawn = false;
        for run in &runs {
            let history = match metric_history(&ui.store, &run.info.run_id, &row.key).await {
                Ok(history) => history,
                Err(e) => return store_refusal(&e),
            };
            drawn |= history.len() > 1;
            chart = chart.series(run.info.run_name.clone(), options.points(&history));
        }
        if drawn {
            charts.push(chart.svg());
        }
    }
    let columns: Vec<RunColumn> = runs
        .iter()
        .map(|run| RunColumn {
            name: run.info.run_name.clone(),
            href: run_href(&run.info.experiment_id, &run.info.run_id),
            status: run.info.status.clone(),
        })
        .collect();
    let here = |x: &str, log: bool| {
        let mut pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("runs", id.as_str())).collect();
        pairs.push(("x", x));
        if log {
            pairs.push(("log", "1"));
        }
        format!("/experiments/compare?{}", serde_html_form::to_string(&pairs).unwrap_or_default())
    };
    let x = if options.over_time() { "time" } else { "step" };
    let log = options.log_scale();
    render(
        "experiments/compare.html",
        page_context(
            &viewer,
            "/experiments",
            &[("Experiments", Some("/experiments")), ("Compare runs", None)],
            context! {
                runs => Serde(columns),
                params => Serde(params),
                metrics => Serde(metrics),
                charts,
                x, log,
                by_step => here("step", log),
                by_time => here("time", log),
                log_toggle => here(x, !log),
            },
        ),
    )
}

/// A row for every key any run has, by name, with each run's value.
fn rows(
    runs: &[Run],
    value: impl Fn(&Run, &str) -> Option<String>,
    keys: impl Fn(&Run) -> Vec<String>,
) -> Vec<Row> {
    let keys: BTreeSet<String> = runs.iter().flat_map(&keys).collect();
    keys.into_iter()
        .map(|key| {
            let values: Vec<Option<String>> = runs.iter().map(|run| value(run, &key)).collect();
            let differs = values.iter().any(|v| *v != values[0]);
            Row { key, values, differs }
        })
        .collect()
}
