//! The administration pages: the variables pipelines render (secret ones
//! masked) and, for admins, the users, their roles and their tokens.
//!
//! They change what the CLI's `retrain variables …` and `retrain users …`
//! change, through the same store calls, so the same rules and the same
//! messages hold on both. A form that breaks a rule comes back with the
//! store's words inline; a secret (a generated password, a token) is
//! shown once, on the page that answers the form, and nowhere after.

mod tokens;
mod users;
mod variables;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use retrain_registry::{ErrorCode, Role, StoreError};

use super::Ui;
use crate::routes::{GET, POST, Routes};

/// This section's templates, by the name its pages render them with.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("admin/variables.html", include_str!("../templates/admin/variables.html")),
    ("admin/users.html", include_str!("../templates/admin/users.html")),
    ("admin/shown_once.html", include_str!("../templates/admin/shown_once.html")),
    ("admin/macros.html", include_str!("../templates/admin/macros.html")),
];

/// This section's pages and actions.
pub(super) fn routes() -> Routes<Arc<Ui>> {
    use Role::{Admin, Editor, Viewer};
    Routes::new()
        .to(GET, "/variables", Viewer, variables::page)
        .to(POST, "/variables", Editor, variables::set)
        .to(POST, "/variables/{key}/delete", Editor, variables::delete)
        .to(GET, "/users", Admin, users::page)
        .to(POST, "/users", Admin, users::add)
        .to(POST, "/users/{name}/role", Admin, users::change_role)
        .to(POST, "/users/{name}/password", Admin, users::reset_password)
        .to(POST, "/users/{name}/delete", Admin, users::delete)
        .to(POST, "/users/{name}/tokens", Admin, tokens::create)
        .to(POST, "/users/{name}/tokens/{id}/revoke", Admin, tokens::revoke)
}

/// The status a form refused by the store is answered with: a value that
/// breaks a rule is unprocessable, a name that exists or a last admin a
/// conflict, an unknown name not found.
fn refusal_status(error: &StoreError) -> StatusCode {
    match error.code {
        ErrorCode::InvalidParameterValue => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ResourceAlreadyExists | ErrorCode::InvalidState => StatusCode::CONFLICT,
        code => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Whether the store refused a request (the page says why) rather than
/// failed (the log says why).
fn is_refusal(error: &StoreError) -> bool {
    refusal_status(error).is_client_error()
}

/// A page holding a secret shown once: no cache keeps it.
fn not_stored(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
