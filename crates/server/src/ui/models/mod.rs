//! The registry's pages: the registered models, a model with its
//! versions, serving and audit trail, a version; and the actions that
//! move a version (promote, alias, stage, archive), each with a reason.

mod list;

use std::sync::Arc;

use retrain_registry::Role;

use crate::routes::{GET, Routes};

use super::Ui;

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] =
    &[("models/list.html", include_str!("../templates/models/list.html"))];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    Routes::new().to(GET, "/models", Role::Viewer, list::models)
}
