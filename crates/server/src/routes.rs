//! The route table: every route with the role it needs, written once.
//!
//! Each protocol declares its routes through [`Routes`], which adds the
//! handler to an axum router *and* records `(method, path, role)` in a
//! [`RouteSpec`]. The router enforces the role (a route layer in front of
//! the handler, see [`crate::auth`]); the specs are what the access test
//! walks, so a route cannot be added without saying who may call it, and
//! the test cannot miss one.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodFilter, on};
use retrain_registry::Role;

use crate::auth::require;

/// The methods, short, for the tables.
pub(crate) const GET: Method = Method::GET;
pub(crate) const POST: Method = Method::POST;
pub(crate) const PUT: Method = Method::PUT;
pub(crate) const PATCH: Method = Method::PATCH;
pub(crate) const DELETE: Method = Method::DELETE;

/// One route as the table records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The path as routed, with `{param}` and `{*rest}` placeholders.
    pub path: String,
    /// The least role that may call it; `None`: anyone, without
    /// credentials (the probes and the sign-in).
    pub role: Option<Role>,
}

/// Routes being declared: the router and the table, built together.
pub(crate) struct Routes<S = ()> {
    router: Router<S>,
    specs: Vec<RouteSpec>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub(crate) fn new() -> Self {
        Routes { router: Router::new(), specs: Vec::new() }
    }

    /// A route that answers without credentials.
    pub(crate) fn public<H, T>(self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(method, path, None, handler)
    }

    /// A route for callers of `role` or above.
    pub(crate) fn to<H, T>(self, method: Method, path: &str, role: Role, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(method, path, Some(role), handler)
    }

    fn add<H, T>(mut self, method: Method, path: &str, role: Option<Role>, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| unreachable!("routes are declared with standard methods"));
        let mut endpoint = on(filter, handler);
        if let Some(role) = role {
            endpoint = endpoint.route_layer(from_fn_with_state(role, require));
        }
        // axum merges the method routers of one path.
        self.router = self.router.route(path, endpoint);
        self.specs.push(RouteSpec { method, path: path.to_owned(), role });
        self
    }

    /// `routes` under `prefix`.
    pub(crate) fn nest(mut self, prefix: &str, routes: Routes<S>) -> Self {
        self.router = self.router.nest(prefix, routes.router);
        self.specs.extend(
            routes.specs.into_iter().map(|spec| RouteSpec { path: format!("{prefix}{}", spec.path), ..spec }),
        );
        self
    }

    /// Both tables' routes.
    pub(crate) fn merge(mut self, routes: Routes<S>) -> Self {
        self.router = self.router.merge(routes.router);
        self.specs.extend(routes.specs);
        self
    }

    /// The router changed by `f` (a layer, a fallback); the table stays.
    pub(crate) fn map_router(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// The routes with their state given.
    pub(crate) fn with_state(self, state: S) -> Routes<()> {
        Routes { router: self.router.with_state(state), specs: self.specs }
    }
}

impl Routes<()> {
    /// The router and the table it was built from.
    pub(crate) fn into_parts(self) -> (Router, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}
