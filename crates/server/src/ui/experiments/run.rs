//! A run (`/experiments/{id}/runs/{run_id}`): its params, metrics, tags
//! and dataset inputs; every metric's history as a chart (the training
//! history first); its artifacts as a tree with previews; the model
//! versions registered from it and the pipeline task that produced it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::entities::{Run, Tag};
use serde::{Deserialize, Serialize};

use super::artifacts::{self, Browsed};
use super::{ChartOptions, experiment_href, metric_history};
use crate::ui::pipelines::task_href;
use crate::ui::render::render;
use crate::ui::store_refusal;
use crate::ui::{Ui, Viewer, models, page_context};

/// The tag a pipeline's `register` step ties its run to the task
/// instance with: `PIPELINE/RUN_ID/TASK`.
const TASK_INSTANCE_TAG: &str = "retrain.task_instance";
/// Metrics logged per training iteration are named with this prefix.
const TRAINING_HISTORY: &str = "train_";
/// Metric histories charted on one page at most.
const CHARTS_SHOWN: usize = 40;

#[derive(Deserialize)]
pub(super) struct RunQuery {
    #[serde(flatten)]
    chart: ChartOptions,
    /// The artifact directory or file shown, relative to the run's root.
    #[serde(default)]
    path: String,
}

#[derive(Serialize)]
struct MetricRow {
    key: String,
    value: f64,
    step: i64,
    timestamp: i64,
    /// The chart's anchor on this page, when the metric has a history.
    chart: Option<String>,
}

#[derive(Serialize)]
struct InputRow {
    name: String,
    digest: String,
    source_type: String,
    source: String,
    context: String,
}

#[derive(Serialize)]
struct VersionRow {
    name: String,
    version: String,
    stage: String,
    href: String,
}

#[derive(Serialize)]
struct Producer {
    pipeline: String,
    run_id: String,
    task: String,
    href: String,
}

#[derive(Serialize)]
struct ChartView {
    anchor: String,
    svg: String,
}

/// `GET /experiments/{id}/runs/{run_id}`.
pub(super) async fn run(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((id, run_id)): Path<(String, String)>,
    Query(query): Query<RunQuery>,
) -> Response {
    let run = match super::run_in(&ui, &id, &run_id).await {
        Ok(run) => run,
        Err(page) => return *page,
    };
    let experiment = match ui.store.get_experiment(&id).await {
        Ok(experiment) => experiment,
        Err(e) => return store_refusal(&e),
    };
    let (charts, charted) = match charts(&ui, &run, &query.chart).await {
        Ok(charts) => charts,
        Err(e) => return store_refusal(&e),
    };
    let filter = format!("run_id = '{}'", run.info.run_id);
    let versions = match ui.store.search_model_versions(Some(&filter), Some(100), None).await {
        Ok((versions, _)) => versions,
        Err(e) => return store_refusal(&e),
    };
    let versions: Vec<VersionRow> = versions
        .into_iter()
        .map(|v| VersionRow {
            href: models::version_href(&v.name, &v.version),
            name: v.name,
            version: v.version,
            stage: v.current_stage,
        })
        .collect();
    let browsed: Browsed = match artifacts::browse(&ui, &run, &query.path).await {
        Ok(browsed) => browsed,
        Err(page) => return page,
    };

    let mut metrics: Vec<MetricRow> = run
        .data
        .metrics
        .iter()
        .map(|m| MetricRow {
            key: m.key.clone(),
            value: m.value,
            step: m.step,
            timestamp: m.timestamp,
            chart: charted.contains(&m.key).then(|| anchor(&m.key)),
        })
        .collect();
    metrics.sort_by(|a, b| a.key.cmp(&b.key));
    let mut params = run.data.params.clone();
    params.sort_by(|a, b| a.key.cmp(&b.key));
    let (system_tags, tags): (Vec<Tag>, Vec<Tag>) = run
        .data
        .tags
        .iter()
        .cloned()
        .partition(|t| t.key.starts_with("mlflow.") || t.key.starts_with("retrain."));
    let producer = producer(&run);
    let inputs: Vec<InputRow> = run.inputs.dataset_inputs.iter().map(input_row).collect();
    let here = super::run_href(&id, &run.info.run_id);
    let options = |x: &str, log: bool| {
        let mut pairs = vec![("x", x.to_owned())];
        if log {
            pairs.push(("log", "1".to_owned()));
        }
        if !query.path.is_empty() {
            pairs.push(("path", query.path.clone()));
        }
        format!("{here}?{}#charts", serde_html_form::to_string(&pairs).unwrap_or_default())
    };
    let x = if query.chart.over_time() { "time" } else { "step" };
    let log = query.chart.log_scale();
    let title = run.info.run_name.clone();
    let experiment_link = experiment_href(&id);
    render(
        "experiments/run.html",
        page_context(
            &viewer,
            "/experiments",
            &[
                ("Experiments", Some("/experiments")),
                (&experiment.name, Some(&experiment_link)),
                (&title, None),
            ],
            context! {
                run => Serde(&run.info),
                duration => run.info.end_time.map(|end| end - run.info.start_time),
                params => Serde(params),
                metrics => Serde(metrics),
                tags => Serde(tags),
                system_tags => Serde(system_tags),
                inputs => Serde(inputs),
                charts => Serde(charts),
                x, log,
                by_step => options("step", log),
                by_time => options("time", log),
                log_toggle => options(x, !log),
                versions => Serde(versions),
                producer => Serde(producer),
                artifacts => Serde(browsed),
            },
        ),
    )
}

/// Each metric with more than one point, drawn: the training history
/// first, then the rest by name; and the keys drawn.
async fn charts(
    ui: &Ui,
    run: &Run,
    options: &ChartOptions,
) -> retrain_registry::Result<(Vec<ChartView>, Vec<String>)> {
    let mut keys: Vec<&str> = run.data.metrics.iter().map(|m| m.key.as_str()).collect();
    keys.sort_by_key(|k| (!k.starts_with(TRAINING_HISTORY), *k));
    let mut charts = Vec::new();
    let mut charted = Vec::new();
    for key in keys.into_iter().take(CHARTS_SHOWN) {
        let history = metric_history(&ui.store, &run.info.run_id, key).await?;
        if history.len() < 2 {
            continue;
        }
        let svg = options.chart(key).series(key, options.points(&history)).svg();
        charts.push(ChartView { anchor: anchor(key), svg });
        charted.push(key.to_owned());
    }
    Ok((charts, charted))
}

/// A chart's anchor on the page: `chart-` and the key, with what an
/// address fragment cannot hold replaced.
fn anchor(key: &str) -> String {
    let safe: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
    format!("chart-{safe}")
}

/// The pipeline task that produced the run, from the tag its `register`
/// step sets.
fn producer(run: &Run) -> Option<Producer> {
    let tag = run.data.tags.iter().find(|t| t.key == TASK_INSTANCE_TAG)?;
    let (pipeline, rest) = tag.value.split_once('/')?;
    let (run_id, task) = rest.rsplit_once('/')?;
    Some(Producer {
        href: task_href(pipeline, run_id, task),
        pipeline: pipeline.to_owned(),
        run_id: run_id.to_owned(),
        task: task.to_owned(),
    })
}

fn input_row(input: &retrain_registry::entities::DatasetInput) -> InputRow {
    let field = |name: &str| input.dataset.get(name).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let context = input.tags.iter().find(|t| t.key == "mlflow.data.context").map(|t| t.value.clone());
    InputRow {
        name: field("name"),
        digest: field("digest"),
        source_type: field("source_type"),
        source: field("source"),
        context: context.unwrap_or_default(),
    }
}
