//! The web UI: the whole retraining loop on one site, served from the
//! binary itself.
//!
//! Pages are HTML rendered on the server ([`render`]) from the same store
//! and scheduler state the APIs read, with paged queries; they read
//! without JavaScript, and a small script of our own ([`assets`]) only adds
//! what a page can do better with one (a live log tail, chart hover).
//! Every page's state (columns, filter, sort, page) is in its address, so
//! every view can be linked to.
//!
//! The UI's routes go through the same table as the APIs
//! ([`crate::routes`]): each page and action names the role it needs, and
//! the server refuses an action whatever buttons a page shows. A browser
//! signs in on `/login` ([`session`]) and carries a session cookie, which
//! [`crate::auth`] accepts like a token, except for a change asked from
//! another site's page. Every answer carries a Content-Security-Policy
//! that lets pages load only this server's own script and styles.

mod admin;
mod assets;
mod chart;
mod experiments;
mod models;
mod overview;
mod pipelines;
mod render;
mod session;
mod timeline;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Uri, header};
use minijinja::Value;
use minijinja::value::Serde;
use retrain_registry::{ArtifactStore, ErrorCode, Role, SqlStore, StoreError};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::airflow::PipelineApi;
use crate::auth::{Gate, Identity};
use crate::routes::{GET, POST, Routes};
use crate::serving::ModelCatalog;

pub(crate) use render::error_page;

/// What the UI's pages read from: the tracking store, and the parts only
/// some servers have.
pub(crate) struct Ui {
    store: Arc<SqlStore>,
    /// Where runs' artifacts are kept.
    artifacts: Arc<ArtifactStore>,
    /// The scheduler's pipelines, under `retrain up`.
    pipelines: Option<Arc<PipelineApi>>,
    /// The models served by name, under `retrain up`.
    catalog: Option<Arc<ModelCatalog>>,
    gate: Arc<Gate>,
}

impl Ui {
    pub(crate) fn new(
        store: Arc<SqlStore>,
        artifacts: Arc<ArtifactStore>,
        pipelines: Option<Arc<PipelineApi>>,
        catalog: Option<Arc<ModelCatalog>>,
        gate: Arc<Gate>,
    ) -> Ui {
        Ui { store, artifacts, pipelines, catalog, gate }
    }

    /// The UI's pages and actions, each with the role it needs, and the
    /// headers every answer of theirs carries.
    pub(crate) fn routes(self: Arc<Self>) -> Routes {
        use Role::Viewer;
        Routes::new()
            .public(GET, "/static/{file}", assets::asset)
            .public(GET, "/login", session::login_page)
            .public(POST, "/login", session::login)
            .to(POST, "/logout", Viewer, session::logout)
            .to(GET, "/", Viewer, overview::overview)
            .merge(pipelines::routes())
            .merge(experiments::routes())
            .merge(models::routes())
            .merge(admin::routes())
            .with_state(self)
            .map_router(|router| {
                router
                    .fallback(not_found)
                    .layer(header_layer(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
                    .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
                    // A run's charts carry every value they draw: gzip
                    // makes such a page a fraction of its size on the wire.
                    .layer(CompressionLayer::new().gzip(true))
            })
    }
}

/// Pages load only this server's own script, styles and images; no inline
/// script runs, no other site may frame them, forms post only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Any address no route answers: a page that says so.
async fn not_found(uri: Uri) -> axum::response::Response {
    error_page(axum::http::StatusCode::NOT_FOUND, &format!("There is no page at {}.", uri.path()))
}

/// What the store refused, as a page: what was asked wrong (400), what
/// is not there (404), or a failure of the store itself (500, logged).
fn store_refusal(e: &StoreError) -> axum::response::Response {
    match e.code {
        ErrorCode::ResourceDoesNotExist => {
            error_page(axum::http::StatusCode::NOT_FOUND, &format!("{}.", e.message.trim_end_matches('.')))
        }
        ErrorCode::InternalError => overview::store_failure(e),
        _ => error_page(axum::http::StatusCode::BAD_REQUEST, &e.message),
    }
}

/// The sign-in page's address, coming back to `uri` afterwards.
pub(crate) fn login_address(uri: &Uri) -> String {
    let back = uri.path_and_query().map_or("/", |p| p.as_str());
    if back == "/" {
        return "/login".to_owned();
    }
    let query = serde_html_form::to_string([("next", back)]).unwrap_or_default();
    format!("/login?{query}")
}

/// `text` as one segment of an address: every byte but letters, digits
/// and `-._~` percent-encoded (as minijinja's `urlencode` writes them).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Who is looking at a page, as the page shows it: the name in the user
/// menu and which buttons appear (the routes refuse the rest anyway).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Viewer {
    name: String,
    role: String,
    /// The server does not sign anyone in: everyone may do everything.
    open: bool,
    can_edit: bool,
    is_admin: bool,
}

impl Viewer {
    fn new(name: &str, role: Role, open: bool) -> Viewer {
        Viewer {
            name: name.to_owned(),
            role: role.to_string(),
            open,
            can_edit: role >= Role::Editor,
            is_admin: role >= Role::Admin,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Viewer, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(Identity::Open) => Ok(Viewer::new("anonymous", Role::Admin, true)),
            Some(Identity::Caller(caller)) => Ok(Viewer::new(&caller.name, caller.role, false)),
            // The route's role layer refuses a request without one first.
            None => Err(error_page(axum::http::StatusCode::UNAUTHORIZED, "Sign in to see this page.")),
        }
    }
}

/// A page's context: what every page has (who is looking, the section
/// the navigation marks, the breadcrumb) and the page's own `values`.
fn page_context(viewer: &Viewer, section: &str, breadcrumb: &[(&str, Option<&str>)], values: Value) -> Value {
    minijinja::context! {
        me => Serde(viewer),
        section,
        breadcrumb => Serde(breadcrumb),
        ..values
    }
}
