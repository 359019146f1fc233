//! The web UI as a browser meets it: pages asked for with `Accept:
//! text/html`, forms posted as a browser posts them (with the
//! `Sec-Fetch-Site` it sends), the session cookie carried from the
//! sign-in on. Each module tests one part of the site.

mod admin;
mod experiments;
mod models;
mod pipelines;
mod signing_in;

use axum::Router;
use axum::http::{Method, StatusCode, header};

use crate::common::{Reply, password_of, request, send};

/// A browser on the UI: its session cookie, once signed in.
pub(crate) struct Browser {
    app: Router,
    cookie: Option<String>,
}

impl Browser {
    /// A browser that has not signed in.
    pub(crate) fn new(app: &Router) -> Browser {
        Browser { app: app.clone(), cookie: None }
    }

    /// A browser signed in as `user` (whose password is
    /// [`password_of`] it), through the sign-in form.
    pub(crate) async fn signed_in(app: &Router, user: &str) -> Browser {
        let mut browser = Browser::new(app);
        let reply = browser.post("/login", &[("username", user), ("password", &password_of(user))]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{user} signs in: {}", reply.text());
        let set = reply.headers[header::SET_COOKIE].to_str().unwrap();
        browser.cookie = Some(set.split(';').next().unwrap().to_owned());
        browser
    }

    fn headers<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![(header::ACCEPT.as_str(), "text/html,application/xhtml+xml,*/*;q=0.8")];
        if let Some(cookie) = &self.cookie {
            headers.push((header::COOKIE.as_str(), cookie));
        }
        headers.extend_from_slice(extra);
        headers
    }

    /// The page at `path`.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[]).await
    }

    /// The page at `path`, asked for with `extra` headers too.
    pub(crate) async fn get_with(&self, path: &str, extra: &[(&str, &str)]) -> Reply {
        send(&self.app, request(Method::GET, path, &self.headers(extra), None)).await
    }

    /// A page that must answer 200; its HTML.
    pub(crate) async fn page(&self, path: &str) -> String {
        let reply = self.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text());
        reply.text()
    }

    /// `form` posted to `path` from one of the UI's own pages.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_from(path, form, "same-origin").await
    }

    /// `form` posted to `path` from a page whose relation to this server
    /// the browser reports as `site` (`cross-site`, `same-origin`).
    pub(crate) async fn post_from(&self, path: &str, form: &[(&str, &str)], site: &str) -> Reply {
        let body = serde_html_form::to_string(form).unwrap();
        let headers = self.headers(&[
            (header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded"),
            ("sec-fetch-site", site),
        ]);
        send(&self.app, request(Method::POST, path, &headers, Some(body))).await
    }
}

/// Where a redirect sends the browser.
pub(crate) fn location(reply: &Reply) -> &str {
    assert!(reply.status.is_redirection(), "a redirect, not {}: {}", reply.status, reply.text());
    reply.headers[header::LOCATION].to_str().unwrap()
}

/// `text` as the templates write it into a page: HTML-escaped the way
/// minijinja escapes (`&`, `<`, `>`, `"`, `'` and `/`).
pub(crate) fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}
