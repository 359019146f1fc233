//! The administration pages: the variables pipelines render (secret ones
//! masked) and, for admins, the users, their roles and their tokens.

use std::sync::Arc;

use crate::routes::Routes;

use super::Ui;

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    Routes::new()
}
