//! Signing a browser in and out: the sign-in page, the session cookie it
//! sets, and the sign-out that ends the session.
//!
//! The password is checked by the same gate as an API client's (the same
//! failure counting and the same answer for an unknown user and a wrong
//! password); what a browser gets back is a session token, in memory only,
//! in an `HttpOnly` cookie. A server restart ends every session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;

use super::Ui;
use super::render::{error_page, render_with_status};
use crate::auth::{SESSION_TTL, expired_cookie, is_cross_site, session_cookie};

/// Where the browser goes after signing in: a path on this server, never
/// another site (`//host` and `https://…` are refused as addresses).
fn local_next(next: Option<&str>) -> &str {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") => next,
        _ => "/",
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the form, or straight on when the server signs no one in.
pub(super) async fn login_page(State(ui): State<Arc<Ui>>, Query(query): Query<LoginQuery>) -> Response {
    let next = local_next(query.next.as_deref());
    if !ui.gate.signs_in() {
        return Redirect::to(next).into_response();
    }
    login_form(StatusCode::OK, "", next, None)
}

fn login_form(status: StatusCode, username: &str, next: &str, problem: Option<&str>) -> Response {
    render_with_status(status, "login.html", context! { username, next, problem })
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: a session cookie for a right password, the form again
/// (401, or 429 after too many failures) for a wrong one.
pub(super) async fn login(
    State(ui): State<Arc<Ui>>,
    address: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_next(form.next.as_deref()).to_owned();
    if !ui.gate.signs_in() {
        return Redirect::to(&next).into_response();
    }
    // A sign-in posted from another site would sign this browser in as
    // someone else's account.
    if is_cross_site(&Method::POST, &headers) {
        return error_page(StatusCode::FORBIDDEN, "Sign in from retrain's own sign-in page.");
    }
    let address = address.map(|Extension(ConnectInfo(a))| a);
    match ui.gate.sign_in_with_password(form.username.clone(), form.password, address, SESSION_TTL).await {
        Ok((caller, token)) => {
            tracing::info!(user = %caller.name, "signed in to the web UI");
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, session_cookie(&token));
            response
        }
        Err(refusal) if refusal.is_rate_limit() => {
            login_form(StatusCode::TOO_MANY_REQUESTS, &form.username, &next, Some(refusal.message()))
        }
        Err(_) => {
            login_form(StatusCode::UNAUTHORIZED, &form.username, &next, Some("Wrong user name or password."))
        }
    }
}

/// `POST /logout`: ends the session and forgets the cookie.
pub(super) async fn logout(State(ui): State<Arc<Ui>>, headers: HeaderMap) -> Response {
    if let Some(secret) = crate::auth::session_secret(&headers) {
        ui.gate.end_session(secret);
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, expired_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_signing_in_the_browser_stays_on_this_server() {
        assert_eq!(local_next(Some("/models/iris?tab=versions")), "/models/iris?tab=versions");
        for elsewhere in ["//evil.example/", "https://evil.example/", "/\\evil.example", "models", ""] {
            assert_eq!(local_next(Some(elsewhere)), "/", "{elsewhere}");
        }
        assert_eq!(local_next(None), "/");
    }
}
