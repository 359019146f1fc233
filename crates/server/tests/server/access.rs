//! Who may call what, on a server that signs callers in: every route of
//! the route table (the one the router is built from, not a list written
//! here) answers 401 without credentials, 403 to a role below its own, and
//! reaches its handler for its own role; wrong credentials of every kind
//! are a 4xx that stores nothing; failed sign-ins are slowed down.

use axum::Router;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use retrain_registry::{Role, now_ms};
use retrain_server::RouteSpec;
use serde_json::json;

use crate::common::{Reply, USERS, basic, full_app, password_of, request, send, user_with};

/// The route's path with each placeholder filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "x" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(app: &Router, route: &RouteSpec, authorization: Option<&str>) -> Reply {
    let mut headers = vec![(header::CONTENT_TYPE.as_str(), "application/json")];
    if let Some(value) = authorization {
        headers.push((header::AUTHORIZATION.as_str(), value));
    }
    let body = (route.method != Method::GET).then(|| "{}".to_owned());
    send(app, request(route.method.clone(), &concrete(&route.path), &headers, body)).await
}

/// The error code of a refusal, in the shape of the API asked.
fn refusal_code(route: &RouteSpec, reply: &Reply) -> String {
    let answer = reply.json();
    if route.path.starts_with("/api/v2/") {
        assert!(answer["detail"].is_string(), "{} {}: {answer}", route.method, route.path);
        reply.status.as_str().to_owned()
    } else {
        answer["error_code"].as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_asks_for_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let (app, routes, _store) = full_app(dir.path()).await;
    let public: Vec<&str> = routes.iter().filter(|r| r.role.is_none()).map(|r| r.path.as_str()).collect();
    assert_eq!(
        public,
        ["/health", "/version", "/ping", "/auth/token", "/static/{file}", "/login", "/login"],
        "only the probes, the UI's own files and the sign-ins are open"
    );
    assert!(routes.len() > 100, "both MLflow prefixes, artifacts, serving, Airflow: {}", routes.len());

    for route in routes.iter().filter(|r| r.role.is_some()) {
        let role = route.role.unwrap();
        let what = format!("{} {} ({role})", route.method, route.path);

        let anonymous = call(&app, route, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(anonymous.headers.contains_key(header::WWW_AUTHENTICATE), "{what}");
        let code = refusal_code(route, &anonymous);
        assert!(code == "UNAUTHENTICATED" || code == "401", "{what}: {code}");

        let below = match role {
            Role::Viewer => None,
            Role::Editor => Some(Role::Viewer),
            Role::Admin => Some(Role::Editor),
        };
        if let Some(below) = below {
            let user = user_with(below);
            let refused = call(&app, route, Some(&basic(user, &password_of(user)))).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what} as {below}");
            let code = refusal_code(route, &refused);
            assert!(code == "PERMISSION_DENIED" || code == "403", "{what}: {code}");
        }

        let user = user_with(role);
        let allowed = call(&app, route, Some(&basic(user, &password_of(user)))).await;
        assert!(
            ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&allowed.status),
            "{what} as {role}: {} {}",
            allowed.status,
            allowed.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_are_refused_alike_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let search = "/api/2.0/mlflow/experiments/search";
    let get = |authorization: String| {
        let app = app.clone();
        async move {
            let headers = [(header::AUTHORIZATION.as_str(), authorization.as_str())];
            send(&app, request(Method::GET, search, &headers, None)).await
        }
    };

    let revoked = store.create_token("ed", None).await.unwrap();
    let ok = get(format!("Bearer {}", revoked.secret)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    store.revoke_token(&revoked.id).await.unwrap();
    let expired = store.create_token("ed", Some(now_ms() - 1)).await.unwrap();

    let unknown_user = get(basic("nobody", "vera-password")).await;
    let wrong_password = get(basic("vera", "not-her-password")).await;
    assert_eq!(
        unknown_user.json(),
        wrong_password.json(),
        "an unknown user is answered like a wrong password"
    );
    let ten_kb = "p".repeat(10 * 1024);
    for (what, authorization) in [
        ("unknown user", basic("nobody", "vera-password")),
        ("empty user", basic("", "vera-password")),
        ("wrong password", basic("vera", "not-her-password")),
        ("10 KB password", basic("vera", &ten_kb)),
        ("malformed Basic", "Basic not-base64!".to_owned()),
        ("Basic without a colon", format!("Basic {}", STANDARD.encode("vera"))),
        ("revoked token", format!("Bearer {}", revoked.secret)),
        ("expired token", format!("Bearer {}", expired.secret)),
        ("token with spaces", format!("Bearer {} extra", revoked.secret)),
        ("not a token", "Bearer vera-password".to_owned()),
        ("unknown scheme", "Digest x".to_owned()),
    ] {
        let reply = get(authorization).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {}", reply.text());
        assert_eq!(reply.json()["error_code"], "UNAUTHENTICATED", "{what}");
    }
    assert_eq!(store.users().await.unwrap().len(), USERS.len(), "nothing was added");
    assert_eq!(store.tokens(None).await.unwrap().len(), 1, "only the expired token is left");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_slowed_down_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let path = "/api/2.0/mlflow/experiments/search";
    let attempt = |password: &str| {
        let authorization = basic("vera", password);
        let app = app.clone();
        async move {
            let headers = [(header::AUTHORIZATION.as_str(), authorization.as_str())];
            send(&app, request(Method::GET, path, &headers, None)).await
        }
    };
    for i in 0..10 {
        assert_eq!(attempt(&format!("guess-{i}")).await.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let limited = attempt("guess-10").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["error_code"], "RESOURCE_EXHAUSTED");
    let wait: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Even the right password waits: the guesser cannot tell it worked.
    assert_eq!(attempt("vera-password").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn airflow_clients_sign_in_for_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let sign_in = |body: serde_json::Value| {
        let app = app.clone();
        async move {
            let headers = [(header::CONTENT_TYPE.as_str(), "application/json")];
            send(&app, request(Method::POST, "/auth/token", &headers, Some(body.to_string()))).await
        }
    };
    let signed = sign_in(json!({"username": "ed", "password": "ed-password"})).await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text());
    let token = signed.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let headers = [(header::AUTHORIZATION.as_str(), bearer.as_str())];
    let dags = send(&app, request(Method::GET, "/api/v2/dags", &headers, None)).await;
    assert_eq!(dags.status, StatusCode::OK, "{}", dags.text());
    assert!(dags.json()["total_entries"].as_i64().unwrap() > 0);

    let wrong = sign_in(json!({"username": "ed", "password": "nope"})).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["detail"], "invalid credentials");
    let missing = sign_in(json!({"username": "ed"})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_trail_and_user_id_name_the_caller_not_what_the_client_claims() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let token = store.create_token("ed", None).await.unwrap();
    let bearer = format!("Bearer {}", token.secret);
    let as_ed = |method: Method, path: &str, body: serde_json::Value| {
        let app = app.clone();
        let bearer = bearer.clone();
        let path = path.to_owned();
        async move {
            let headers = [
                (header::AUTHORIZATION.as_str(), bearer.as_str()),
                (header::CONTENT_TYPE.as_str(), "application/json"),
                ("x-retrain-actor", "mallory"),
            ];
            let body = (method != Method::GET).then(|| body.to_string());
            let reply = send(&app, request(method, &path, &headers, body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
            reply.json()
        }
    };
    let api = "/api/2.0/mlflow";
    let run = as_ed(Method::POST, &format!("{api}/runs/create"), json!({"user_id": "mallory"})).await;
    assert_eq!(run["run"]["info"]["user_id"], "ed");
    as_ed(Method::POST, &format!("{api}/registered-models/create"), json!({"name": "m"})).await;
    let source = format!("runs:/{}/model", run["run"]["info"]["run_id"].as_str().unwrap());
    let version =
        as_ed(Method::POST, &format!("{api}/model-versions/create"), json!({"name": "m", "source": source}))
            .await;
    assert_eq!(version["model_version"]["user_id"], "ed");
    as_ed(
        Method::POST,
        &format!("{api}/registered-models/alias"),
        json!({"name": "m", "alias": "champion", "version": "1"}),
    )
    .await;
    let audit = as_ed(Method::GET, &format!("{api}/registered-models/audit?name=m"), json!({})).await;
    let actors: Vec<&str> =
        audit["events"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["ed"], "{audit}");
}
