//! A model version (`/models/{name}/versions/{version}`): its stage and
//! aliases, where its files are, the run it came from with that run's
//! metrics, what happened to it in the audit trail, and, for editors,
//! the forms that promote, alias, stage or archive it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::entities::Metric;
use serde::Serialize;

use super::{EventRow, model_href, source_run};
use crate::ui::experiments::run_href;
use crate::ui::render::render;
use crate::ui::timeline::CHAMPION;
use crate::ui::{Ui, Viewer, page_context, store_refusal};

#[derive(Serialize)]
struct SourceRun {
    name: String,
    href: String,
    metrics: Vec<Metric>,
}

/// `GET /models/{name}/versions/{version}`.
pub(super) async fn version(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, number)): Path<(String, String)>,
) -> Response {
    let version = match ui.store.get_model_version(&name, &number).await {
        Ok(version) => version,
        Err(e) => return store_refusal(&e),
    };
    let run = match &version.run_id {
        Some(id) => match source_run(&ui.store, id).await {
            Ok(run) => run,
            Err(e) => return store_refusal(&e),
        },
        None => None,
    };
    let source = run.map(|run| {
        let mut metrics = run.data.metrics;
        metrics.sort_by(|a, b| a.key.cmp(&b.key));
        SourceRun {
            href: run_href(&run.info.experiment_id, &run.info.run_id),
            name: run.info.run_name,
            metrics,
        }
    });
    let events = match ui.store.registry_events(&name, None).await {
        Ok(events) => events,
        Err(e) => return store_refusal(&e),
    };
    let history: Vec<EventRow> = events
        .iter()
        .rev()
        .filter(|e| e.from_version.as_ref() == Some(&number) || e.to_version.as_ref() == Some(&number))
        .map(EventRow::from)
        .collect();
    let is_champion = version.aliases.iter().any(|a| a == CHAMPION);
    let title = format!("Version {number}");
    let model = model_href(&name);
    render(
        "models/version.html",
        page_context(
            &viewer,
            "/models",
            &[("Models", Some("/models")), (&name, Some(&model)), (&title, None)],
            context! {
                version => Serde(&version),
                run_id => version.run_id.clone(),
                source => Serde(source),
                history => Serde(history),
                is_champion,
                champion => CHAMPION,
                action => format!("{}/move", crate::ui::models::version_href(&name, &number)),
            },
        ),
    )
}
