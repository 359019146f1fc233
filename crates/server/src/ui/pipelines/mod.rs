//! The pipelines' pages: the list with schedules and latest runs, each
//! pipeline's grid and task graph, a run, and a task instance's tries
//! and logs; and the actions on them (trigger, pause, clear, mark).

use std::sync::Arc;

use crate::routes::Routes;

use super::Ui;

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    Routes::new()
}
