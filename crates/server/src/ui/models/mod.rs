//! The registry's pages: the registered models, a model with its
//! versions, serving and audit trail, a version; and the actions that
//! move a version (promote, alias, stage, archive), each confirmed and
//! given a reason that the audit trail keeps.
//!
//! Each page has its module; this one holds what they share: the
//! addresses pages link to, a version's source run and headline metric,
//! and an audit event as pages list it.

mod actions;
mod list;
mod model;
mod version;

use std::sync::Arc;

use retrain_registry::entities::{ModelVersion, RegistryEvent, Run};
use retrain_registry::{ErrorCode, Role, SqlStore};
use serde::Serialize;

use super::timeline::{describe, headline_metric};
use crate::routes::{GET, POST, Routes};

use super::Ui;

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("models/list.html", include_str!("../templates/models/list.html")),
    ("models/model.html", include_str!("../templates/models/model.html")),
    ("models/version.html", include_str!("../templates/models/version.html")),
    ("models/confirm.html", include_str!("../templates/models/confirm.html")),
];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    use Role::{Editor, Viewer};
    Routes::new()
        .to(GET, "/models", Viewer, list::models)
        .to(GET, "/models/{name}", Viewer, model::model)
        .to(GET, "/models/{name}/versions/{version}", Viewer, version::version)
        .to(POST, "/models/{name}/versions/{version}/move", Editor, actions::move_version)
        .to(POST, "/models/{name}/aliases/{alias}/delete", Editor, actions::delete_alias)
}

/// A model's page.
fn model_href(name: &str) -> String {
    format!("/models/{}", super::encode(name))
}

/// A model version's page.
pub(super) fn version_href(name: &str, version: &str) -> String {
    format!("{}/versions/{}", model_href(name), super::encode(version))
}

/// Every version of model `name`, newest first, as far as a page of the
/// store's goes (the timeline and the audit trail need them all).
async fn versions_of(store: &SqlStore, name: &str) -> retrain_registry::Result<Vec<ModelVersion>> {
    let filter = format!("name = '{}'", name.replace('\'', "''"));
    Ok(store.search_model_versions(Some(&filter), Some(1000), None).await?.0)
}

/// The run a version was registered from, `None` when it is gone.
async fn source_run(store: &SqlStore, run_id: &str) -> retrain_registry::Result<Option<Run>> {
    match store.get_run(run_id).await {
        Ok(run) => Ok(Some(run)),
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Ok(None),
        Err(e) => Err(e),
    }
}

/// The metric that stands for a run's quality, with its value.
fn headline(run: &Run) -> Option<(String, f64)> {
    let metrics: Vec<(String, f64)> = run.data.metrics.iter().map(|m| (m.key.clone(), m.value)).collect();
    headline_metric(&metrics).cloned()
}

/// An audit event as the pages list it.
#[derive(Serialize)]
struct EventRow {
    at: i64,
    /// What happened, in words, with who and why.
    text: String,
    /// The versions it moved between, for links.
    from_version: Option<String>,
    to_version: Option<String>,
}

impl From<&RegistryEvent> for EventRow {
    fn from(event: &RegistryEvent) -> Self {
        EventRow {
            at: event.at,
            text: describe(event),
            from_version: event.from_version.clone(),
            to_version: event.to_version.clone(),
        }
    }
}
