//! What a browser brings that an API client does not: the session cookie
//! the sign-in page sets, and the cross-site requests a cookie invites.
//!
//! A browser sends its cookie with every request to this server, even one
//! another site's page makes it send (a form posted from elsewhere). So a
//! request that changes something and proves its caller only by the
//! cookie must come from this server's own pages: the browser's
//! `Sec-Fetch-Site` says `same-origin` (or `none`: typed by the user), or,
//! from a browser too old to send it, `Origin` names this host. API
//! clients send Basic or Bearer credentials, which no other site can make
//! a browser send, and are not asked. The cookie is also `SameSite=Lax`,
//! so browsers leave it off cross-site posts in the first place.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, header};

/// The cookie that carries a signed-in browser's session token.
pub(crate) const SESSION_COOKIE: &str = "retrain_session";

/// How long a browser stays signed in.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The session token in the request's cookies, if there is one.
pub(crate) fn session_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == SESSION_COOKIE && !value.is_empty()).then_some(value))
}

/// The `Set-Cookie` value that signs a browser in with `secret`.
pub(crate) fn session_cookie(secret: &str) -> HeaderValue {
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| unreachable!("session tokens are URL-safe"))
}

/// The `Set-Cookie` value that signs a browser out.
pub(crate) fn expired_cookie() -> HeaderValue {
    HeaderValue::from_static("retrain_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Whether a request that may change something comes from another site's
/// page (see the module's text); reads never do.
pub(crate) fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    origin_host.is_none() || origin_host != host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let h = headers(&[("cookie", "theme=dark; retrain_session=rt_abc; other=1")]);
        assert_eq!(session_secret(&h), Some("rt_abc"));
        assert_eq!(session_secret(&headers(&[("cookie", "retrain_session=")])), None);
        assert_eq!(session_secret(&HeaderMap::new()), None);
    }

    #[test]
    fn only_writes_from_another_site_are_cross_site() {
        let post = Method::POST;
        assert!(!is_cross_site(&post, &headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_cross_site(&post, &headers(&[("sec-fetch-site", "none")])));
        assert!(is_cross_site(&post, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&post, &headers(&[("sec-fetch-site", "same-site")])));
        assert!(!is_cross_site(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])));
        let same = headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]);
        assert!(!is_cross_site(&post, &same));
        let other = headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]);
        assert!(is_cross_site(&post, &other));
        assert!(is_cross_site(&post, &headers(&[("origin", "null"), ("host", "127.0.0.1:8080")])));
        assert!(!is_cross_site(&post, &HeaderMap::new()));
    }
}
