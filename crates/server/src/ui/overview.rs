//! The overview (`/`): the loop at a glance. For each registered model,
//! the champion (which version, since when, moved by whom and why, what
//! it scored) and what serving answers with; for each pipeline, its
//! latest runs and the newest day it has succeeded for; and what failed
//! in the last day, each failure linked to its log.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::state::RunState;
use retrain_registry::SqlStore;
use retrain_registry::entities::{ModelVersion, RegisteredModel, RegistryEvent};
use serde::Serialize;

use super::render::render;
use super::timeline::{CHAMPION, registry_timeline};
use super::{Ui, Viewer, page_context};
use crate::ui::render::error_page;

/// Models the overview shows at most; the models page lists them all.
const MODELS_SHOWN: i64 = 20;
/// Runs of each pipeline shown as squares.
const RUNS_SHOWN: i64 = 25;

/// Failures shown, the newest first, and how far back.
const FAILURES_SHOWN: i64 = 20;
const FAILURES_SINCE_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Serialize)]
struct ModelCard {
    name: String,
    versions: usize,
    champion: Option<Champion>,
    /// The version serving answers `/models/NAME/invocations` with, once
    /// it has loaded one.
    serving: Option<String>,
    /// The last 30 days of registry events over the champion's metric, as
    /// SVG.
    timeline: Option<String>,
}

#[derive(Serialize)]
struct Champion {
    version: String,
    since: Option<i64>,
    by: String,
    reason: String,
    run_id: Option<String>,
    metrics: Vec<(String, f64)>,
}

#[derive(Serialize)]
struct PipelineCard {
    name: String,
    description: String,
    schedule: String,
    paused: bool,
    runs: Vec<RunSquare>,
    /// The data interval of the newest successful run shown.
    latest_success: Option<String>,
}

#[derive(Serialize)]
struct Failure {
    pipeline: String,
    run_id: String,
    task: String,
    try_number: u32,
    ended_at: Option<i64>,
    message: String,
}

#[derive(Serialize)]
struct RunSquare {
    run_id: String,
    state: String,
    interval_start: String,
}

/// `GET /`.
pub(super) async fn overview(State(ui): State<Arc<Ui>>, viewer: Viewer) -> Response {
    let served = match &ui.catalog {
        Some(catalog) => catalog.served().await,
        None => Vec::new(),
    };
    let models = match model_cards(&ui.store, &served).await {
        Ok(models) => models,
        Err(e) => return store_failure(&e),
    };
    let (pipelines, failures) = match &ui.pipelines {
        Some(api) => match (pipeline_cards(api).await, failures(api).await) {
            (Ok(cards), Ok(failures)) => (Some(cards), failures),
            (Err(e), _) | (_, Err(e)) => return store_failure(&e),
        },
        None => (None, Vec::new()),
    };
    let serving = ui.catalog.is_some();
    render(
        "overview.html",
        page_context(
            &viewer,
            "/",
            &[],
            context! {
                models => Serde(models),
                pipelines => Serde(pipelines),
                failures => Serde(failures),
                serving,
            },
        ),
    )
}

pub(super) fn store_failure(e: &dyn std::error::Error) -> Response {
    tracing::error!("reading a page's data: {}", retrain_ml::error_chain(e));
    error_page(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "The store could not be read; the server log says why.",
    )
}

async fn model_cards(
    store: &SqlStore,
    served: &[(String, String)],
) -> retrain_registry::Result<Vec<ModelCard>> {
    let order = ["last_updated_timestamp DESC".to_owned()];
    let (models, _) = store.search_registered_models(None, Some(MODELS_SHOWN), &order, None).await?;
    let mut cards = Vec::with_capacity(models.len());
    for model in models {
        let uri = format!("models:/{}@{CHAMPION}", model.name);
        let serving = served.iter().find(|(served, _)| *served == uri).map(|(_, version)| version.clone());
        cards.push(model_card(store, model, serving).await?);
    }
    Ok(cards)
}

async fn model_card(
    store: &SqlStore,
    model: RegisteredModel,
    serving: Option<String>,
) -> retrain_registry::Result<ModelCard> {
    let filter = format!("name = '{}'", model.name.replace('\'', "''"));
    let (versions, _) = store.search_model_versions(Some(&filter), Some(1000), None).await?;
    let events = store.registry_events(&model.name, None).await?;
    let champion = match model.aliases.iter().find(|a| a.alias == CHAMPION) {
        Some(alias) => Some(champion(store, &alias.version, &versions, &events).await?),
        None => None,
    };
    let timeline = registry_timeline(store, &versions, &events).await?;
    Ok(ModelCard { name: model.name, versions: versions.len(), champion, serving, timeline })
}

async fn champion(
    store: &SqlStore,
    version: &str,
    versions: &[ModelVersion],
    events: &[RegistryEvent],
) -> retrain_registry::Result<Champion> {
    let moved = events
        .iter()
        .rev()
        .find(|e| e.kind == "alias" && e.subject == CHAMPION && e.to_version.as_deref() == Some(version));
    let run_id = versions.iter().find(|v| v.version == version).and_then(|v| v.run_id.clone());
    let metrics = match &run_id {
        Some(id) => match store.get_run(id).await {
            Ok(run) => run.data.metrics.into_iter().map(|m| (m.key, m.value)).collect(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok(Champion {
        version: version.to_owned(),
        since: moved.map(|e| e.at),
        by: moved.map(|e| e.actor.clone()).unwrap_or_default(),
        reason: moved.map(|e| e.reason.clone()).unwrap_or_default(),
        run_id,
        metrics,
    })
}

async fn pipeline_cards(api: &crate::airflow::PipelineApi) -> retrain_flow::store::Result<Vec<PipelineCard>> {
    let (pipelines, _) = api.project().load_pipelines();
    let paused = api.state().paused().await?;
    let mut cards = Vec::with_capacity(pipelines.len());
    for pipeline in pipelines {
        let mut runs = api.state().recent_runs(&pipeline.name, RUNS_SHOWN).await?;
        runs.reverse();
        let latest_success = runs
            .iter()
            .rev()
            .find(|r| r.state == RunState::Success)
            .map(|r| r.interval_start.format("%Y-%m-%d").to_string());
        cards.push(PipelineCard {
            paused: paused.contains(&pipeline.name),
            schedule: pipeline.schedule.describe(),
            description: pipeline.description,
            latest_success,
            runs: runs
                .into_iter()
                .map(|r| RunSquare {
                    state: r.state.to_string(),
                    interval_start: r.interval_start.format("%Y-%m-%d %H:%M").to_string(),
                    run_id: r.run_id,
                })
                .collect(),
            name: pipeline.name,
        });
    }
    Ok(cards)
}

async fn failures(api: &crate::airflow::PipelineApi) -> retrain_flow::store::Result<Vec<Failure>> {
    let since = retrain_registry::now_ms() - FAILURES_SINCE_MS;
    let failed = api.state().failures_since(since, FAILURES_SHOWN).await?;
    Ok(failed
        .into_iter()
        .map(|ti| Failure {
            message: ti.message.unwrap_or_default(),
            ended_at: ti.ended_at,
            try_number: ti.try_number,
            pipeline: ti.pipeline,
            run_id: ti.run_id,
            task: ti.task,
        })
        .collect())
}
