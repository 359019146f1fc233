//! The variables page (`/variables`): what pipelines read as `var.KEY`,
//! secret ones as `***` (their clear value never reaches a page), and for
//! editors the forms that set and delete them, as `retrain variables set`
//! and `delete` do: a key named like a secret is stored encrypted whether
//! or not the box is ticked.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;
use retrain_flow::redact::{MASK, is_secret_name};
use retrain_flow::secrets::SecretKey;
use retrain_flow::store::Variable;
use serde::{Deserialize, Serialize};

use super::{is_refusal, refusal_status};
use crate::airflow::PipelineApi;
use crate::ui::overview::store_failure;
use crate::ui::render::{error_page, render_with_status};
use crate::ui::{Ui, Viewer, page_context};

/// A variable as the page shows it.
#[derive(Serialize)]
struct Row {
    key: String,
    /// The value, or [`MASK`] for a secret one.
    shown: String,
    secret: bool,
}

impl Row {
    fn of(variable: &Variable) -> Row {
        let secret = variable.is_secret();
        let shown = if secret { MASK.to_owned() } else { variable.value.clone() };
        Row { key: variable.key.clone(), shown, secret }
    }
}

/// What the set form holds when it comes back with a problem.
#[derive(Default, Serialize)]
struct Filled {
    key: String,
    /// Written back only when the variable is not secret.
    value: String,
    secret: bool,
}

/// The page after a change: which one, to say it was made.
#[derive(Deserialize)]
pub(super) struct Done {
    set: Option<String>,
    deleted: Option<String>,
}

/// `GET /variables`.
pub(super) async fn page(State(ui): State<Arc<Ui>>, viewer: Viewer, Query(done): Query<Done>) -> Response {
    let notice = match (done.set, done.deleted) {
        (Some(key), _) => Some(format!("Set {key}.")),
        (None, Some(key)) => Some(format!("Deleted {key}.")),
        (None, None) => None,
    };
    draw(&ui, &viewer, StatusCode::OK, notice, None, Filled::default()).await
}

async fn draw(
    ui: &Ui,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    problem: Option<String>,
    filled: Filled,
) -> Response {
    let rows = match &ui.pipelines {
        Some(api) => match api.state().variables().await {
            Ok(variables) => variables.iter().map(Row::of).collect(),
            Err(e) => return store_failure(&e),
        },
        None => Vec::new(),
    };
    let values = context! {
        pipelines => ui.pipelines.is_some(),
        variables => Serde(rows),
        notice,
        problem,
        filled => Serde(filled),
        mask => MASK,
    };
    let context = page_context(viewer, "/variables", &[("Variables", None)], values);
    render_with_status(status, "admin/variables.html", context)
}

/// The pipelines' variables, or the page saying there are none here.
fn pipelines(ui: &Ui) -> Result<&PipelineApi, Box<Response>> {
    ui.pipelines.as_deref().ok_or_else(|| {
        Box::new(error_page(
            StatusCode::NOT_FOUND,
            "This server runs no pipelines: variables belong to the pipelines `retrain up` runs.",
        ))
    })
}

#[derive(Deserialize)]
pub(super) struct SetForm {
    key: String,
    value: String,
    /// The checkbox: present when ticked.
    secret: Option<String>,
}

/// `POST /variables`: sets a variable, then back to the list.
pub(super) async fn set(State(ui): State<Arc<Ui>>, viewer: Viewer, Form(form): Form<SetForm>) -> Response {
    let api = match pipelines(&ui) {
        Ok(api) => api,
        Err(page) => return *page,
    };
    let key = form.key.trim();
    let secret = form.secret.is_some() || is_secret_name(key);
    let state = if secret {
        match SecretKey::load_or_create(&api.project().root) {
            Ok(secret_key) => api.state().clone().with_secret_key(Some(secret_key)),
            Err(e) => {
                tracing::error!("loading the secret key: {e}");
                return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
            }
        }
    } else {
        api.state().clone()
    };
    match state.set_variable(key, &form.value, secret).await {
        Ok(()) => Redirect::to(&format!("/variables?{}", query("set", key))).into_response(),
        Err(e) if is_refusal(&e) => {
            let value = if secret { String::new() } else { form.value };
            let filled = Filled { key: key.to_owned(), value, secret };
            draw(&ui, &viewer, refusal_status(&e), None, Some(e.message), filled).await
        }
        Err(e) => store_failure(&e),
    }
}

/// `POST /variables/{key}/delete`: deletes a variable, then back to the list.
pub(super) async fn delete(State(ui): State<Arc<Ui>>, Path(key): Path<String>) -> Response {
    let api = match pipelines(&ui) {
        Ok(api) => api,
        Err(page) => return *page,
    };
    match api.state().delete_variable(&key).await {
        Ok(true) => Redirect::to(&format!("/variables?{}", query("deleted", &key))).into_response(),
        Ok(false) => error_page(StatusCode::NOT_FOUND, &format!("no variable '{key}'")),
        Err(e) => store_failure(&e),
    }
}

/// `name=value`, encoded for an address.
fn query(name: &str, value: &str) -> String {
    serde_html_form::to_string([(name, value)]).unwrap_or_default()
}
