//! The HTTP application: which protocols a server speaks, the state their
//! handlers share, and the layers every request passes through. The
//! commands (`retrain server`, `retrain up`, `retrain serve`) only say
//! which parts they want; the routers of `mlflow`, `serving` and `airflow`
//! are put together here and nowhere else, so the order of the layers is
//! written down once.
//!
//! Two parts are still to come, and both belong here:
//!
//! - the web UI, a module `ui` beside the protocols (its templates, the
//!   view models they render, and its assets embedded in the binary),
//!   whose routes the builder merges with the others;
//! - authentication, one tower layer that [`AppBuilder::build`] applies
//!   around every route, between the tracing layer and the routes, so that
//!   no handler ever checks who is asking.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use retrain_registry::{ArtifactStore, SqlStore};
use tower_http::trace::{DefaultMakeSpan, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::airflow::PipelineApi;
use crate::serving::{self, ModelCatalog, ModelHandle, ServingOptions};

/// The state of the tracking server's handlers. Each handler takes the
/// part it uses (`State<Arc<SqlStore>>`, `State<Arc<ArtifactStore>>`,
/// through [`FromRef`]), not the whole.
///
/// Model serving and the pipeline API are parts only some servers have:
/// they are the state of their own routes, given when the builder mounts
/// them, so that no handler has to ask whether its part exists.
#[derive(Clone)]
pub struct App {
    store: Arc<SqlStore>,
    artifacts: Arc<ArtifactStore>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl FromRef<App> for Arc<SqlStore> {
    fn from_ref(app: &App) -> Self {
        app.store.clone()
    }
}

impl FromRef<App> for Arc<ArtifactStore> {
    fn from_ref(app: &App) -> Self {
        app.artifacts.clone()
    }
}

impl App {
    /// The tracking server on `store` and `artifacts`: MLflow's REST API
    /// and the proxied artifact service; add the other parts with the
    /// builder's methods.
    pub fn builder(store: Arc<SqlStore>, artifacts: Arc<ArtifactStore>) -> AppBuilder {
        AppBuilder { state: App { store, artifacts }, serving: None, pipelines: None }
    }

    /// The application of `retrain serve`: one model with MLflow's scoring
    /// protocol, behind the same layers as the tracking server.
    pub fn single_model(handle: Arc<ModelHandle>) -> Router {
        layered(serving::single_model_routes(handle))
    }
}

/// The parts of a tracking server, put together by [`AppBuilder::build`].
pub struct AppBuilder {
    state: App,
    serving: Option<ServingOptions>,
    pipelines: Option<PipelineApi>,
}

impl fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppBuilder")
            .field("serving", &self.serving.is_some())
            .field("pipelines", &self.pipelines.is_some())
            .finish_non_exhaustive()
    }
}

impl AppBuilder {
    /// Also serve registered models by name at `/models/{name}/invocations`.
    pub fn serving(mut self, options: ServingOptions) -> AppBuilder {
        self.serving = Some(options);
        self
    }

    /// Also serve Airflow's REST API over the scheduler's pipelines.
    pub fn pipelines(mut self, api: PipelineApi) -> AppBuilder {
        self.pipelines = Some(api);
        self
    }

    /// The router, from the outermost layer in:
    ///
    /// 1. layers every request passes, whichever route answers it (see
    ///    [`layered`]);
    /// 2. the protocols' routes, side by side, each group with the body
    ///    limit its requests need: MLflow's REST API and the artifact
    ///    service, then model serving and Airflow's API when configured.
    ///
    /// Authentication, when it comes, is one layer between the two, over
    /// every route, so that no handler checks it; the UI's pages are one
    /// more group of routes beside the others.
    pub fn build(self) -> Router {
        let mut routes = crate::mlflow::routes().with_state(self.state);
        if let Some(options) = self.serving {
            routes = routes.merge(serving::catalog_routes(Arc::new(ModelCatalog::new(options))));
        }
        if let Some(api) = self.pipelines {
            routes = routes.merge(Arc::new(api).router());
        }
        layered(routes)
    }
}

/// The layers every application has, around all of its routes: request
/// tracing, once. Its spans and events are at DEBUG level, so a server
/// logging at INFO pays one disabled-level check per request for them.
fn layered(routes: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG));
    routes.layer(trace)
}
