//! A user's API tokens, from the users page: made (the secret shown
//! once, as `retrain users token create` prints it once) and revoked
//! (it stops working at once, in this server too).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use retrain_registry::{StoreError, now_ms};
use serde::Deserialize;

use super::users::{done, refused_with, shown_once};
use crate::ui::{Ui, Viewer};

#[derive(Deserialize)]
pub(super) struct CreateForm {
    /// How long it works (`90d`, `12h`); empty: until revoked.
    #[serde(default)]
    expires: String,
}

/// When a token made now stops working, from the form's `expires`.
fn expiry(expires: &str) -> Result<Option<i64>, StoreError> {
    if expires.trim().is_empty() {
        return Ok(None);
    }
    let lasts =
        retrain_flow::pipeline::parse_duration(expires).map_err(|e| StoreError::invalid(e.to_string()))?;
    let lasts_ms = i64::try_from(lasts.as_millis()).unwrap_or(i64::MAX);
    Ok(Some(now_ms().saturating_add(lasts_ms)))
}

/// `POST /users/{name}/tokens`: makes a token for the user; the answer
/// shows its secret this once.
pub(super) async fn create(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<CreateForm>,
) -> Response {
    let made = match expiry(&form.expires) {
        Ok(expires_at) => ui.store.create_token(&name, expires_at).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(token) => {
            tracing::info!(user = %name, token = %token.id, by = %viewer.name, "made a token in the web UI");
            let says = format!("Token {} for {name}; copy it now, it is not shown again.", token.id);
            shown_once(&viewer, &format!("Token for {name}"), &says, &token.secret)
        }
        Err(e) => refused_with(&ui, &viewer, e).await,
    }
}

/// `POST /users/{name}/tokens/{id}/revoke`: revokes one of the user's tokens.
pub(super) async fn revoke(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let revoked = match ui.store.tokens(Some(&name)).await {
        Ok(tokens) if tokens.iter().any(|t| t.id == id) => ui.store.revoke_token(&id).await,
        Ok(_) => Err(StoreError::not_found(format!("'{name}' has no token with id '{id}'"))),
        Err(e) => Err(e),
    };
    match revoked {
        Ok(()) => {
            tracing::info!(user = %name, token = %id, by = %viewer.name, "revoked a token in the web UI");
            done("revoked", &id)
        }
        Err(e) => refused_with(&ui, &viewer, e).await,
    }
}
