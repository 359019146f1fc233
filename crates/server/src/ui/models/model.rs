//! A registered model (`/models/{name}`): its champion and aliases, what
//! serving holds and where to call it, its versions with their source
//! runs' headline metric, and its audit trail as a timeline, with a date
//! picker answering "what was in Production on this date".

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::NaiveDate;
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::entities::ModelVersion;
use serde::{Deserialize, Serialize};

use super::{EventRow, headline, version_href, versions_of};
use crate::ui::experiments::run_href;
use crate::ui::render::render_with_status;
use crate::ui::timeline::{CHAMPION, registry_timeline};
use crate::ui::{Ui, Viewer, encode, page_context, store_refusal};

/// Versions listed a page, newest first.
const VERSIONS_A_PAGE: i64 = 50;

#[derive(Deserialize)]
pub(super) struct ModelQuery {
    /// A day, `2026-11-20`: the registry as it stood at its end (UTC).
    #[serde(default)]
    at: String,
    /// The store's token for the page of versions to show.
    page: Option<String>,
}

#[derive(Serialize)]
struct VersionRow {
    version: String,
    href: String,
    stage: String,
    aliases: Vec<String>,
    run_href: Option<String>,
    /// The source run's headline metric: (name, value).
    metric: Option<(String, f64)>,
    created_by: String,
    created_at: i64,
}

/// What held each stage and alias at the end of a chosen day.
#[derive(Serialize)]
struct StateAt {
    day: String,
    stages: Vec<(String, Vec<String>)>,
    aliases: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Served {
    uri: String,
    version: String,
}

/// `GET /models/{name}`.
pub(super) async fn model(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<ModelQuery>,
    headers: HeaderMap,
) -> Response {
    let model = match ui.store.get_registered_model(&name).await {
        Ok(model) => model,
        Err(e) => return store_refusal(&e),
    };
    let filter = format!("name = '{}'", name.replace('\'', "''"));
    let (versions, next) = match ui
        .store
        .search_model_versions(Some(&filter), Some(VERSIONS_A_PAGE), query.page.as_deref())
        .await
    {
        Ok(found) => found,
        Err(e) => return store_refusal(&e),
    };
    let events = match ui.store.registry_events(&name, None).await {
        Ok(events) => events,
        Err(e) => return store_refusal(&e),
    };
    let timeline = match versions_of(&ui.store, &name).await {
        Ok(all) => registry_timeline(&ui.store, &all, &events).await,
        Err(e) => Err(e),
    };
    let timeline = match timeline {
        Ok(timeline) => timeline,
        Err(e) => return store_refusal(&e),
    };
    let mut rows = Vec::with_capacity(versions.len());
    for version in &versions {
        match version_row(&ui, version).await {
            Ok(row) => rows.push(row),
            Err(e) => return store_refusal(&e),
        }
    }
    let (status, state_at, problem) = match state_at(&ui, &name, query.at.trim()).await {
        Ok(state) => (StatusCode::OK, state, None),
        Err(problem) => (StatusCode::BAD_REQUEST, None, Some(problem)),
    };
    let served: Vec<Served> = match &ui.catalog {
        Some(catalog) => catalog
            .served()
            .await
            .into_iter()
            .filter(|(uri, _)| {
                uri.strip_prefix("models:/")
                    .and_then(|rest| rest.strip_prefix(name.as_str()))
                    .is_some_and(|rest| rest.starts_with('@') || rest.starts_with('/'))
            })
            .map(|(uri, version)| Served { uri, version })
            .collect(),
        None => Vec::new(),
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    let invocations = format!("/models/{}/invocations", encode(&name));
    let events: Vec<EventRow> = events.iter().rev().map(EventRow::from).collect();
    let champion = model.aliases.iter().find(|a| a.alias == CHAMPION).map(|a| a.version.clone());
    let next = next.map(|token| {
        format!(
            "/models/{}?{}",
            encode(&name),
            serde_html_form::to_string([("page", token)]).unwrap_or_default()
        )
    });
    let first = query.page.is_some().then(|| format!("/models/{}", encode(&name)));
    render_with_status(
        status,
        "models/model.html",
        page_context(
            &viewer,
            "/models",
            &[("Models", Some("/models")), (&name, None)],
            context! {
                model => Serde(&model),
                champion,
                versions => Serde(rows),
                events => Serde(events),
                timeline,
                at => query.at.trim(),
                state_at => Serde(state_at),
                problem,
                served => Serde(served),
                serving => ui.catalog.is_some(),
                invocations,
                host,
                next,
                first,
            },
        ),
    )
}

async fn version_row(ui: &Ui, version: &ModelVersion) -> retrain_registry::Result<VersionRow> {
    let run = match &version.run_id {
        Some(id) => super::source_run(&ui.store, id).await?,
        None => None,
    };
    Ok(VersionRow {
        version: version.version.clone(),
        href: version_href(&version.name, &version.version),
        stage: version.current_stage.clone(),
        aliases: version.aliases.clone(),
        run_href: run.as_ref().map(|r| run_href(&r.info.experiment_id, &r.info.run_id)),
        metric: run.as_ref().and_then(headline),
        created_by: version.user_id.clone(),
        created_at: version.creation_timestamp,
    })
}

/// The registry at the end of `day` (`YYYY-MM-DD`, UTC), replayed from
/// the audit trail; `None` when no day is asked; the problem in words
/// when the day does not read.
async fn state_at(ui: &Ui, name: &str, day: &str) -> Result<Option<StateAt>, String> {
    if day.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|e| format!("The date '{day}' does not read as YYYY-MM-DD: {e}."))?;
    let end =
        date.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp_millis() - 1);
    let Some(end) = end else { return Err(format!("The date '{day}' is out of range.")) };
    let (stages, aliases) = ui.store.registry_state_at(name, end).await.map_err(|e| e.message)?;
    Ok(Some(StateAt {
        day: day.to_owned(),
        stages: stages.into_iter().collect(),
        aliases: aliases.into_iter().collect(),
    }))
}
