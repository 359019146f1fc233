//! The HTTP application: which protocols a server speaks, the state their
//! handlers share, and the layers every request passes through. The
//! commands (`retrain server`, `retrain up`, `retrain serve`) only say
//! which parts they want; the routers of `mlflow`, `serving` and `airflow`
//! are put together here and nowhere else, so the order of the layers is
//! written down once.
//!
//! Every route comes from a route table ([`crate::routes`]) that says
//! which role may call it; the builder puts the tables together, and
//! [`crate::auth`]'s layer around them all says who is calling, so that
//! no handler ever checks. The web UI ([`crate::ui`]) is one more table,
//! over the same store and the same parts.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware::from_fn_with_state;
use retrain_registry::{ArtifactStore, SqlStore};
use tower_http::trace::{DefaultMakeSpan, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::airflow::PipelineApi;
use crate::auth::{self, Gate};
use crate::routes::{POST, RouteSpec, Routes};
use crate::serving::{self, ModelCatalog, ModelHandle, ServingOptions};
use crate::ui::Ui;

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
        AppBuilder { state: App { store, artifacts }, serving: None, pipelines: None, sign_in: false }
    }

    /// The application of `retrain serve`: one model with MLflow's scoring
    /// protocol, behind the same layers as the tracking server; callers
    /// sign in as the users of `users` when it is given.
    pub fn single_model(handle: Arc<ModelHandle>, users: Option<Arc<SqlStore>>) -> Router {
        let gate = users.map_or(Gate::Open, Gate::sign_in);
        layered(serving::single_model_routes(handle), Arc::new(gate)).0
    }
}

/// The parts of a tracking server, put together by [`AppBuilder::build`].
pub struct AppBuilder {
    state: App,
    serving: Option<ServingOptions>,
    pipelines: Option<PipelineApi>,
    sign_in: bool,
}

impl fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppBuilder")
            .field("serving", &self.serving.is_some())
            .field("pipelines", &self.pipelines.is_some())
            .field("sign_in", &self.sign_in)
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

    /// Ask every caller who they are: the users and tokens of the store
    /// (see [`crate::auth`]), and Airflow's `POST /auth/token` to sign in.
    pub fn sign_in(mut self) -> AppBuilder {
        self.sign_in = true;
        self
    }

    /// The router, from the outermost layer in:
    ///
    /// 1. layers every request passes, whichever route answers it (see
    ///    [`layered`]): tracing, then who is calling;
    /// 2. the protocols' routes, side by side, each with the role it needs
    ///    and each group with the body limit its requests need: MLflow's
    ///    REST API and the artifact service, then model serving and
    ///    Airflow's API when configured, and the web UI's pages.
    pub fn build(self) -> Router {
        self.build_with_routes().0
    }

    /// [`AppBuilder::build`], and the route table it was built from.
    pub fn build_with_routes(self) -> (Router, Vec<RouteSpec>) {
        let gate = Arc::new(if self.sign_in { Gate::sign_in(self.state.store.clone()) } else { Gate::Open });
        let catalog = self.serving.map(|options| Arc::new(ModelCatalog::new(options)));
        let pipelines = self.pipelines.map(Arc::new);
        let ui = Ui::new(
            self.state.store.clone(),
            self.state.artifacts.clone(),
            pipelines.clone(),
            catalog.clone(),
            gate.clone(),
        );
        let mut routes = crate::mlflow::routes().with_state(self.state);
        if let Some(catalog) = catalog {
            routes = routes.merge(serving::catalog_routes(catalog));
        }
        if let Some(api) = pipelines {
            routes = routes.merge(api.routes());
        }
        if self.sign_in {
            let sign_in = Routes::new().public(POST, "/auth/token", auth::token_for_password);
            routes = routes.merge(sign_in.with_state(gate.clone()));
        }
        layered(routes.merge(Arc::new(ui).routes()), gate)
    }
}

/// The layers every application has, around all of its routes: request
/// tracing, once, then [`auth::identify`]. Tracing's spans and events are
/// at DEBUG level, so a server logging at INFO pays one disabled-level
/// check per request for them.
fn layered(routes: Routes, gate: Arc<Gate>) -> (Router, Vec<RouteSpec>) {
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG));
    let (router, specs) = routes.into_parts();
    (router.layer(from_fn_with_state(gate, auth::identify)).layer(trace), specs)
}
