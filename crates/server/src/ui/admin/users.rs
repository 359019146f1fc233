//! The users page (`/users`, admins only): every user with their role and
//! API tokens, and the forms that add a user, change a role, reset a
//! password and delete a user, by the rules `retrain users …` follows
//! (the store's: a name's characters, a password's length, the last admin
//! stays one). A password chosen here is typed twice; a generated one is
//! shown once, on the page that answers the form.
//!
//! A change holds at once in this server: the store forgets the
//! credentials it remembered, moves the user's signed-in sessions to the
//! new role, and ends them when the password changes or the user goes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;
use retrain_registry::{ApiToken, Role, StoreError, generate_password};
use serde::{Deserialize, Serialize};
use strum::VariantNames;

use super::{is_refusal, not_stored, refusal_status};
use crate::ui::overview::store_failure;
use crate::ui::render::{render, render_with_status};
use crate::ui::{Ui, Viewer, page_context};

#[derive(Serialize)]
struct UserRow {
    name: String,
    role: String,
    created_at: i64,
    /// The user looking at the page.
    is_me: bool,
    tokens: Vec<TokenRow>,
}

#[derive(Serialize)]
struct TokenRow {
    id: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TokenRow {
    fn of(token: ApiToken) -> TokenRow {
        TokenRow {
            id: token.id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
        }
    }
}

/// What the add form holds when it comes back with a problem (never the
/// password).
#[derive(Default, Serialize)]
pub(super) struct Filled {
    name: String,
    role: String,
}

/// The page after a change: which one, to say it was made.
#[derive(Deserialize)]
pub(super) struct Done {
    added: Option<String>,
    role: Option<String>,
    password: Option<String>,
    deleted: Option<String>,
    revoked: Option<String>,
}

impl Done {
    fn notice(self) -> Option<String> {
        let Done { added, role, password, deleted, revoked } = self;
        added
            .map(|name| format!("Added {name}."))
            .or_else(|| role.map(|name| format!("Changed the role of {name}.")))
            .or_else(|| password.map(|name| format!("Changed the password of {name}.")))
            .or_else(|| deleted.map(|name| format!("Deleted {name} and their tokens.")))
            .or_else(|| revoked.map(|id| format!("Revoked token {id}.")))
    }
}

/// `GET /users`.
pub(super) async fn page(State(ui): State<Arc<Ui>>, viewer: Viewer, Query(done): Query<Done>) -> Response {
    draw(&ui, &viewer, StatusCode::OK, done.notice(), None, Filled::default()).await
}

/// The page, with a `notice` of what was done or a `problem` with a form.
pub(super) async fn draw(
    ui: &Ui,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
    filled: Filled,
) -> Response {
    let (users, tokens) = match tokio::try_join!(ui.store.users(), ui.store.tokens(None)) {
        Ok(found) => found,
        Err(e) => return store_failure(&e),
    };
    let mut tokens_of: HashMap<String, Vec<TokenRow>> = HashMap::new();
    for token in tokens {
        tokens_of.entry(token.user.clone()).or_default().push(TokenRow::of(token));
    }
    let rows: Vec<UserRow> = users
        .into_iter()
        .map(|user| UserRow {
            is_me: !viewer.open && user.name == viewer.name,
            tokens: tokens_of.remove(&user.name).unwrap_or_default(),
            role: user.role.to_string(),
            created_at: user.created_at,
            name: user.name,
        })
        .collect();
    let values = context! {
        users => Serde(rows),
        roles => Serde(Role::VARIANTS),
        notice,
        problem,
        filled => Serde(filled),
        min_password => retrain_registry::MIN_PASSWORD_CHARS,
    };
    let context = page_context(viewer, "/users", &[("Users", None)], values);
    render_with_status(status, "admin/users.html", context)
}

/// The page again with the store's (or the form's) words about why it
/// refused, or the error page when the store failed.
async fn refused(ui: &Ui, viewer: &Viewer, error: StoreError, filled: Filled) -> Response {
    if !is_refusal(&error) {
        return store_failure(&error);
    }
    draw(ui, viewer, refusal_status(&error), None, Some(error.message), filled).await
}

/// A page showing a secret this once, with what it is for.
pub(super) fn shown_once(viewer: &Viewer, heading: &str, says: &str, secret: &str) -> Response {
    let values = context! { heading, says, secret };
    let context = page_context(viewer, "/users", &[("Users", Some("/users")), (heading, None)], values);
    not_stored(render("admin/shown_once.html", context))
}

/// Back to the users page, saying what was done (`added=NAME`).
pub(super) fn done(what: &str, name: &str) -> Response {
    let query = serde_html_form::to_string([(what, name)]).unwrap_or_default();
    Redirect::to(&format!("/users?{query}")).into_response()
}

fn role(text: &str) -> Result<Role, StoreError> {
    text.parse().map_err(|_| {
        StoreError::invalid(format!("'{text}' is not a role; use one of {}", Role::VARIANTS.join(", ")))
    })
}

/// A new password: typed twice, or generated.
#[derive(Deserialize)]
pub(super) struct PasswordFields {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    /// The checkbox: present when ticked.
    generate: Option<String>,
}

/// The password to set, and whether it was generated (then the answer
/// shows it).
fn chosen(fields: PasswordFields) -> Result<(String, bool), StoreError> {
    if fields.generate.is_some() {
        return Ok((generate_password(), true));
    }
    if fields.password != fields.password_again {
        return Err(StoreError::invalid("the two passwords differ; nothing changed"));
    }
    Ok((fields.password, false))
}

#[derive(Deserialize)]
pub(super) struct AddForm {
    name: String,
    role: String,
    #[serde(flatten)]
    password: PasswordFields,
}

/// `POST /users`: adds a user.
pub(super) async fn add(State(ui): State<Arc<Ui>>, viewer: Viewer, Form(form): Form<AddForm>) -> Response {
    let name = form.name.trim().to_owned();
    let filled = Filled { name: name.clone(), role: form.role.clone() };
    let chosen = role(&form.role).and_then(|role| Ok((role, chosen(form.password)?)));
    let (role, (password, generated)) = match chosen {
        Ok(chosen) => chosen,
        Err(e) => return refused(&ui, &viewer, e, filled).await,
    };
    if let Err(e) = ui.store.add_user(&name, role, &password).await {
        return refused(&ui, &viewer, e, filled).await;
    }
    tracing::info!(user = %name, %role, by = %viewer.name, "added a user in the web UI");
    if generated {
        let says = format!("Added {name} ({role}). Their password, shown this once: copy it now.");
        return shown_once(&viewer, &format!("Added {name}"), &says, &password);
    }
    done("added", &name)
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    role: String,
}

/// `POST /users/{name}/role`: gives a user another role.
pub(super) async fn change_role(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let changed = match role(&form.role) {
        Ok(role) => ui.store.set_role(&name, role).await,
        Err(e) => Err(e),
    };
    match changed {
        Ok(user) => {
            tracing::info!(user = %name, role = %user.role, by = %viewer.name, "changed a role in the web UI");
            done("role", &name)
        }
        Err(e) => refused(&ui, &viewer, e, Filled::default()).await,
    }
}

/// `POST /users/{name}/password`: sets a user's password.
pub(super) async fn reset_password(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(fields): Form<PasswordFields>,
) -> Response {
    let (password, generated) = match chosen(fields) {
        Ok(chosen) => chosen,
        Err(e) => return refused(&ui, &viewer, e, Filled::default()).await,
    };
    if let Err(e) = ui.store.set_password(&name, &password).await {
        return refused(&ui, &viewer, e, Filled::default()).await;
    }
    tracing::info!(user = %name, by = %viewer.name, "reset a password in the web UI");
    if generated {
        let says = format!("Changed the password of {name}. The new one, shown this once: copy it now.");
        return shown_once(&viewer, &format!("New password for {name}"), &says, &password);
    }
    done("password", &name)
}

/// `POST /users/{name}/delete`: deletes a user and their tokens.
pub(super) async fn delete(State(ui): State<Arc<Ui>>, viewer: Viewer, Path(name): Path<String>) -> Response {
    match ui.store.delete_user(&name).await {
        Ok(()) => {
            tracing::info!(user = %name, by = %viewer.name, "deleted a user in the web UI");
            done("deleted", &name)
        }
        Err(e) => refused(&ui, &viewer, e, Filled::default()).await,
    }
}

/// For [`super::tokens`]: the page again with a problem.
pub(super) async fn refused_with(ui: &Ui, viewer: &Viewer, error: StoreError) -> Response {
    refused(ui, viewer, error, Filled::default()).await
}
