//! Who is asking, and whether they may: the one place the server checks.
//!
//! Two layers, so that no handler ever checks anything:
//!
//! - [`identify`], around every route, reads the request's credentials —
//!   HTTP Basic with a user's password (what MLflow's client sends from
//!   `MLFLOW_TRACKING_USERNAME`/`PASSWORD`) or `Authorization: Bearer`
//!   with a token (`MLFLOW_TRACKING_TOKEN`, Airflow's clients, a task's
//!   own token) — and puts the [`Identity`] they prove on the request.
//!   Wrong credentials stop the request here with 401, and too many of
//!   them from one user or address with 429 ([`limit`]).
//! - [`require`], in front of each route the table gives a role
//!   ([`crate::routes`]), answers 401 to a request without credentials and
//!   403 to a caller whose role is below the route's.
//!
//! A server without sign-in (`retrain server` without `--auth`, as
//! `mlflow server`) puts [`Identity::Open`] on every request, and every
//! route lets it through. Refusals are written in the shape of the API
//! asked: MLflow's `error_code` (`UNAUTHENTICATED`, `PERMISSION_DENIED`,
//! `RESOURCE_EXHAUSTED`) or FastAPI's `detail` under Airflow's `/api/v2`
//! and `/auth`. Checks are answered from memory after the first
//! ([`retrain_registry::Sessions`]), so a client that signs every request
//! pays for argon2 once a minute, not once a request.

mod browser;
mod limit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use retrain_registry::{Caller, ErrorCode, Role, SqlStore};
use serde::Deserialize;
use serde_json::json;

use crate::airflow::problem::{Problem, body};
use crate::mlflow::error_response;
pub(crate) use browser::{SESSION_TTL, expired_cookie, is_cross_site, session_cookie, session_secret};
use limit::FailedLogins;

/// How long a token from Airflow's `POST /auth/token` works (Airflow's
/// default for its JWTs).
const SIGN_IN_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether a server asks who is calling.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Everyone may do everything (`retrain server` without `--auth`).
    Open,
    /// Every route but the probes and the sign-in needs credentials of a
    /// user (or a token) in `store`.
    SignIn {
        /// Where users and tokens are.
        store: Arc<SqlStore>,
        /// Recent failed sign-ins.
        failures: FailedLogins,
    },
}

impl Gate {
    pub(crate) fn sign_in(store: Arc<SqlStore>) -> Gate {
        Gate::SignIn { store, failures: FailedLogins::default() }
    }
}

/// Who a request acts as, put on the request by [`identify`].
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// The server does not ask.
    Open,
    /// Proven by the request's credentials.
    Caller(Caller),
}

/// Which shape a refusal is written in: an API's error, or, for a
/// browser asking for a page, a page (or the way to the sign-in page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Mlflow,
    Airflow,
    Page,
}

impl Dialect {
    fn of(path: &str, headers: &HeaderMap) -> Dialect {
        if path.starts_with("/api/v2/") || path.starts_with("/auth/") {
            Dialect::Airflow
        } else if path.starts_with("/api/") || path.starts_with("/ajax-api/") || !wants_html(headers) {
            Dialect::Mlflow
        } else {
            Dialect::Page
        }
    }
}

/// Whether the client asks for HTML, as a browser does for a page.
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// A request turned away.
#[derive(Debug)]
pub(crate) struct Refusal {
    code: ErrorCode,
    message: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into(), retry_after: None }
    }

    fn unauthenticated(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorCode::Unauthenticated, message)
    }

    /// What the refusal says, for a page that shows it.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Whether it is for too many failures rather than wrong credentials.
    pub(crate) fn is_rate_limit(&self) -> bool {
        self.code == ErrorCode::ResourceExhausted
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The answer to a request for `uri`, in its `dialect`.
    fn answer(self, dialect: Dialect, uri: &Uri) -> Response {
        let status = self.status();
        if dialect == Dialect::Page && status == StatusCode::UNAUTHORIZED {
            return Redirect::to(&crate::ui::login_address(uri)).into_response();
        }
        let mut response = match dialect {
            Dialect::Mlflow => error_response(status, self.code.as_str(), &self.message),
            Dialect::Airflow => Problem::detail(status, self.message).into_response(),
            Dialect::Page => crate::ui::error_page(status, &self.message),
        };
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED && dialect != Dialect::Page {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"retrain\""));
        }
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        response
    }
}

/// The credentials a request carries.
enum Credentials {
    Password { user: String, password: String },
    Token(String),
}

/// The request's credentials: `None` without an `Authorization` header, an
/// error naming what is wrong with a malformed one.
fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = |what: &str| Refusal::unauthenticated(format!("malformed Authorization header: {what}"));
    let value = value.to_str().map_err(|_| malformed("it is not text"))?;
    let (scheme, rest) =
        value.split_once(' ').ok_or_else(|| malformed("expected 'Basic …' or 'Bearer …'"))?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded =
            STANDARD.decode(rest.trim()).map_err(|_| malformed("Basic credentials are not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed("Basic credentials are not UTF-8"))?;
        let (user, password) =
            decoded.split_once(':').ok_or_else(|| malformed("Basic credentials need 'user:password'"))?;
        Ok(Some(Credentials::Password { user: user.to_owned(), password: password.to_owned() }))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(malformed("a Bearer token is one word"));
        }
        Ok(Some(Credentials::Token(token.to_owned())))
    } else {
        Err(malformed("expected 'Basic …' or 'Bearer …'"))
    }
}

fn address_key(request_address: Option<SocketAddr>) -> String {
    match request_address {
        Some(address) => format!("address:{}", address.ip()),
        None => "address:unknown".to_owned(),
    }
}

impl Gate {
    /// Whether callers must sign in.
    pub(crate) fn signs_in(&self) -> bool {
        matches!(self, Gate::SignIn { .. })
    }

    /// A user's sign-in with `password`: the caller, and a token for them
    /// that works for `ttl`, kept in memory only (Airflow's `POST
    /// /auth/token`, the sign-in page's session).
    pub(crate) async fn sign_in_with_password(
        &self,
        user: String,
        password: String,
        address: Option<SocketAddr>,
        ttl: Duration,
    ) -> Result<(Caller, String), Refusal> {
        let Gate::SignIn { store, .. } = self else {
            return Err(Refusal::new(ErrorCode::EndpointNotFound, "this server does not sign users in"));
        };
        match self.check(Credentials::Password { user, password }, address).await? {
            Identity::Caller(caller) => {
                let token = store.sessions().issue(&caller.name, caller.role, ttl);
                Ok((caller, token))
            }
            Identity::Open => unreachable!("a gate that signs in never answers Open"),
        }
    }

    /// The caller a browser's session cookie names, if it still works; a
    /// cookie that does not is no credential (the browser signs in again).
    async fn session(&self, secret: &str) -> Option<Caller> {
        let Gate::SignIn { store, .. } = self else { return None };
        match store.caller_for_token(secret).await {
            Ok(caller) => caller,
            Err(e) => {
                tracing::error!("checking a session: {}", retrain_ml::error_chain(&e));
                None
            }
        }
    }

    /// The session token a sign-out ends.
    pub(crate) fn end_session(&self, secret: &str) {
        if let Gate::SignIn { store, .. } = self {
            store.sessions().end(secret);
        }
    }

    /// The caller `credentials` prove, counting a failure against the
    /// user and the address, and refusing once either has too many.
    async fn check(
        &self,
        credentials: Credentials,
        address: Option<SocketAddr>,
    ) -> Result<Identity, Refusal> {
        let Gate::SignIn { store, failures } = self else { return Ok(Identity::Open) };
        let mut keys = vec![address_key(address)];
        if let Credentials::Password { user, .. } = &credentials {
            keys.push(format!("user:{user}"));
        }
        if let Some(wait) = failures.retry_after(&keys, Instant::now()) {
            return Err(Refusal {
                retry_after: Some(wait),
                ..Refusal::new(ErrorCode::ResourceExhausted, "too many failed sign-ins; try again later")
            });
        }
        let found = match &credentials {
            Credentials::Password { user, password } => store.caller_for_password(user, password).await,
            Credentials::Token(token) => store.caller_for_token(token).await,
        };
        match found {
            Ok(Some(caller)) => Ok(Identity::Caller(caller)),
            Ok(None) => {
                failures.record(&keys, Instant::now());
                // The same words for an unknown user, a wrong password and
                // a token that is not one.
                Err(Refusal::unauthenticated("invalid credentials"))
            }
            Err(e) => {
                tracing::error!("checking credentials: {}", retrain_ml::error_chain(&e));
                Err(Refusal::new(ErrorCode::InternalError, "credentials could not be checked"))
            }
        }
    }
}

/// The layer around every route: puts the request's [`Identity`] on it,
/// or refuses wrong credentials. Credentials are an `Authorization`
/// header, else a browser's session cookie, which may not change
/// anything from another site's page ([`browser`]).
pub(crate) async fn identify(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    if matches!(*gate, Gate::Open) {
        request.extensions_mut().insert(Identity::Open);
        return next.run(request).await;
    }
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let identity = match credentials(request.headers()) {
        Ok(Some(credentials)) => gate.check(credentials, address).await,
        Ok(None) => {
            let Some(secret) = browser::session_secret(request.headers()) else {
                return next.run(request).await;
            };
            let Some(caller) = gate.session(secret).await else { return next.run(request).await };
            if is_cross_site(request.method(), request.headers()) {
                Err(Refusal::new(
                    ErrorCode::PermissionDenied,
                    "this request came from another site's page; make it from retrain's own pages",
                ))
            } else {
                Ok(Identity::Caller(caller))
            }
        }
        Err(refusal) => Err(refusal),
    };
    match identity {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(refusal) => {
            let uri = original_uri(&request).clone();
            refusal.answer(Dialect::of(uri.path(), request.headers()), &uri)
        }
    }
}

/// The layer in front of a route for `role` and above.
pub(crate) async fn require(State(role): State<Role>, request: Request, next: Next) -> Response {
    let refusal = match request.extensions().get::<Identity>() {
        Some(Identity::Open) => return next.run(request).await,
        Some(Identity::Caller(caller)) if caller.role >= role => return next.run(request).await,
        Some(Identity::Caller(caller)) => Refusal::new(
            ErrorCode::PermissionDenied,
            format!("'{}' is {} and this needs {role}", caller.name, caller.role),
        ),
        None => Refusal::unauthenticated("sign in: send a user's password (HTTP Basic) or a token (Bearer)"),
    };
    let uri = original_uri(&request);
    refusal.answer(Dialect::of(uri.path(), request.headers()), uri)
}

/// The address as the client sent it (a nested router sees it shortened).
fn original_uri(request: &Request) -> &Uri {
    request.extensions().get::<axum::extract::OriginalUri>().map_or(request.uri(), |uri| &uri.0)
}

/// Who the audit trail and `user_id` name for a request: the caller when
/// the server signs requests in; otherwise what the client says
/// (`x-retrain-actor`, then its User-Agent), which nothing vouches for.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// The name to record.
    pub(crate) name: String,
    /// Whether the name was proven by credentials.
    pub(crate) signed_in: bool,
}

impl Actor {
    /// The user a new run or model version records: the signed-in caller,
    /// else what the client claims (`claimed`, for runs), else none.
    pub(crate) fn user_id(&self, claimed: Option<&str>) -> String {
        if self.signed_in { self.name.clone() } else { claimed.unwrap_or_default().to_owned() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Actor, Self::Rejection> {
        if let Some(Identity::Caller(caller)) = parts.extensions.get::<Identity>() {
            return Ok(Actor { name: caller.name.clone(), signed_in: true });
        }
        let claimed = parts
            .headers
            .get("x-retrain-actor")
            .or_else(|| parts.headers.get(header::USER_AGENT))
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or("unknown");
        Ok(Actor { name: claimed.to_owned(), signed_in: false })
    }
}

#[derive(Deserialize)]
struct SignIn {
    username: String,
    password: String,
}

/// Airflow 3's `POST /auth/token`: a user's name and password for a
/// bearer token, so Airflow API scripts sign in unchanged. The token
/// lives in memory for a day, as Airflow's JWTs do.
pub(crate) async fn token_for_password(
    State(gate): State<Arc<Gate>>,
    address: Option<Extension<ConnectInfo<SocketAddr>>>,
    bytes: Bytes,
) -> Response {
    let request: SignIn = match body(&bytes) {
        Ok(request) => request,
        Err(problem) => return problem.into_response(),
    };
    let address = address.map(|Extension(ConnectInfo(a))| a);
    match gate.sign_in_with_password(request.username, request.password, address, SIGN_IN_TOKEN_TTL).await {
        Ok((_, token)) => (StatusCode::CREATED, axum::Json(json!({"access_token": token}))).into_response(),
        Err(refusal) => refusal.answer(Dialect::Airflow, &Uri::from_static("/auth/token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers
    }

    #[test]
    fn credentials_are_read_from_basic_and_bearer_headers() {
        let basic = format!("Basic {}", STANDARD.encode("ana:pass:with:colons"));
        match credentials(&headers(&basic)) {
            Ok(Some(Credentials::Password { user, password })) => {
                assert_eq!((user.as_str(), password.as_str()), ("ana", "pass:with:colons"));
            }
            _ => panic!("Basic credentials"),
        }
        assert!(
            matches!(credentials(&headers("bearer rt_abc")), Ok(Some(Credentials::Token(t))) if t == "rt_abc")
        );
        assert!(matches!(credentials(&HeaderMap::new()), Ok(None)));
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        for (header, says) in [
            ("Basic", "expected"),
            ("Basic !!!", "base64"),
            (&format!("Basic {}", STANDARD.encode("no-colon")), "user:password"),
            ("Bearer rt_a rt_b", "one word"),
            ("Bearer  ", "one word"),
            ("Digest abc", "expected"),
        ] {
            let refusal = credentials(&headers(header)).err().expect(header);
            assert_eq!(refusal.code, ErrorCode::Unauthenticated);
            assert!(refusal.message.contains(says), "{header}: {}", refusal.message);
        }
    }

    #[test]
    fn refusals_take_the_shape_of_the_api_asked() {
        let api = HeaderMap::new();
        let browser = {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
            h
        };
        assert_eq!(Dialect::of("/api/2.0/mlflow/runs/get", &api), Dialect::Mlflow);
        assert_eq!(Dialect::of("/api/2.0/mlflow/runs/get", &browser), Dialect::Mlflow);
        assert_eq!(Dialect::of("/models/iris/invocations", &api), Dialect::Mlflow);
        assert_eq!(Dialect::of("/api/v2/dags", &browser), Dialect::Airflow);
        assert_eq!(Dialect::of("/auth/token", &api), Dialect::Airflow);
        assert_eq!(Dialect::of("/pipelines", &browser), Dialect::Page);
        assert_eq!(Dialect::of("/pipelines", &api), Dialect::Mlflow);
    }
}
