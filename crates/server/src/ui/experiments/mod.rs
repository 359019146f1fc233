//! The experiments' pages: the list, an experiment's runs table, a run
//! with its metric charts and artifacts, and runs compared side by side.

use std::sync::Arc;

use crate::routes::Routes;

use super::Ui;

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    Routes::new()
}
