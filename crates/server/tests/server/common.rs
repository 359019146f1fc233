//! What the test modules share: the tracking application in-process, a
//! request sent to a router with `oneshot` and its answer read whole, and
//! a retrain tracking server on a free port for real clients.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use retrain_flow::project::{self, Project};
use retrain_flow::scheduler::SchedulerHandle;
use retrain_flow::store::PipelineStore;
use retrain_registry::{ArtifactStore, MlflowClient, Role, SqlStore};
use retrain_server::airflow::PipelineApi;
use retrain_server::serving::ServingOptions;
use retrain_server::{App, AppBuilder, RouteSpec, Server};
use serde_json::Value;
use tower::ServiceExt;

/// The tracking application's builder on SQLite under `dir`, with
/// artifacts under `dir` too, or, in the S3 tier, in the bucket
/// `RETRAIN_TEST_S3_URI` names.
pub(crate) async fn tracking_app(dir: &Path) -> AppBuilder {
    let uri = format!("sqlite:///{}", dir.join("t.db").display());
    let store = SqlStore::connect(&uri, retrain_server::ARTIFACT_ROOT).await.unwrap();
    let destination = match std::env::var("RETRAIN_TEST_S3_URI") {
        Ok(bucket) => format!("{}/{}", bucket.trim_end_matches('/'), uuid::Uuid::new_v4().simple()),
        Err(_) => dir.join("artifacts").to_string_lossy().into_owned(),
    };
    let artifacts = ArtifactStore::open(&destination).unwrap();
    App::builder(Arc::new(store), Arc::new(artifacts))
}

/// The three users, each signing in with `NAME-password`.
pub(crate) const USERS: [(&str, Role); 3] =
    [("vera", Role::Viewer), ("ed", Role::Editor), ("ada", Role::Admin)];

pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

pub(crate) fn password_of(user: &str) -> String {
    format!("{user}-password")
}

/// The user of `role` from [`USERS`].
pub(crate) fn user_with(role: Role) -> &'static str {
    USERS.iter().find(|(_, r)| *r == role).map(|(name, _)| *name).unwrap()
}

/// Everything `retrain up` mounts (tracking, serving by name, Airflow's
/// API), signing callers in, with the route table it was built from.
pub(crate) async fn full_app(dir: &Path) -> (Router, Vec<RouteSpec>, Arc<SqlStore>) {
    project::init(dir).unwrap();
    let project = Project::open(dir).unwrap();
    let uri = format!("sqlite:///{}", dir.join("t.db").display());
    let store = Arc::new(SqlStore::connect(&uri, retrain_server::ARTIFACT_ROOT).await.unwrap());
    for (name, role) in USERS {
        store.add_user(name, role, &password_of(name)).await.unwrap();
    }
    let artifacts = Arc::new(ArtifactStore::open(&dir.join("artifacts").to_string_lossy()).unwrap());
    let serving = ServingOptions {
        // Nothing listens there: scoring an unknown model fails fast.
        tracking: MlflowClient::new("http://127.0.0.1:9").unwrap(),
        cache: dir.join("cache"),
        poll: Duration::from_secs(60),
    };
    let api = PipelineApi::new(
        project,
        PipelineStore::new(store.clone()),
        "scheduler",
        Arc::new(SchedulerHandle::default()),
    );
    let (router, routes) =
        App::builder(store.clone(), artifacts).serving(serving).pipelines(api).sign_in().build_with_routes();
    (router, routes, store)
}

/// Starts the tracking server of [`tracking_app`] on a free 127.0.0.1
/// port; returns its URL.
pub(crate) async fn start_retrain_server(dir: &Path) -> String {
    let app = tracking_app(dir).await.build();
    let server = Server::bind("127.0.0.1", 0).await.unwrap().spawn(app, std::future::pending());
    server.url().to_owned()
}

/// An answer, read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as JSON; `null` when it is not JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request to send with [`send`]: `method` on `uri` (path and query)
/// with `headers`, and `body` when given.
pub(crate) fn request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.map_or_else(Body::empty, Body::from)).unwrap()
}

/// `request` with `body` as JSON, as an MLflow client sends it.
pub(crate) fn json_request(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Request<Body> {
    let mut with_type = vec![(header::CONTENT_TYPE.as_str(), "application/json")];
    with_type.extend_from_slice(headers);
    request(method, uri, &with_type, Some(body.to_string()))
}

/// Sends `request` to `app` in-process and reads the answer whole.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, body }
}

/// `path?query`, the query's values percent-encoded.
pub(crate) fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    format!("{path}?{}", serde_html_form::to_string(query).unwrap())
}
