//! The administration pages: variables (secret values never in a page,
//! set and deleted by editors by the store's rules) and users (admins
//! only; every change holds at once for the user's next request, and the
//! last admin stays one).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use retrain_flow::secrets::SecretKey;
use retrain_flow::store::PipelineStore;
use retrain_registry::SqlStore;

use super::{Browser, escaped, location};
use crate::common::{Reply, basic, full_app, password_of, request, send, tracking_app};

/// The project's pipeline store, able to encrypt as the server does.
fn pipeline_store(store: &Arc<SqlStore>, dir: &Path) -> PipelineStore {
    PipelineStore::new(store.clone()).with_secret_key(Some(SecretKey::load_or_create(dir).unwrap()))
}

/// `user` signing in with `password` through the sign-in form: the
/// browser, or the refusal.
async fn sign_in(app: &Router, user: &str, password: &str) -> Result<Browser, Reply> {
    let mut browser = Browser::new(app);
    let reply = browser.post("/login", &[("username", user), ("password", password)]).await;
    if reply.status != StatusCode::SEE_OTHER {
        return Err(reply);
    }
    let set = reply.headers[header::SET_COOKIE].to_str().unwrap();
    browser.cookie = Some(set.split(';').next().unwrap().to_owned());
    Ok(browser)
}

/// The secret a shown-once page shows.
fn shown_secret(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let text = reply.text();
    let start =
        text.find(r#"class="secret-value">"#).expect("a secret shown") + r#"class="secret-value">"#.len();
    text[start..].split('<').next().unwrap().to_owned()
}

/// An MLflow API request with `authorization`: its status.
async fn api_status(app: &Router, authorization: &str) -> StatusCode {
    let headers = [(header::AUTHORIZATION.as_str(), authorization)];
    send(app, request(Method::GET, "/api/2.0/mlflow/experiments/search", &headers, None)).await.status
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_never_reach_the_variables_page() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = pipeline_store(&store, dir.path());
    state.set_variable("DB_PASSWORD", "hunter2-clear-value", false).await.unwrap();
    state.set_variable("bucket_region", "ticked-secret-value", true).await.unwrap();
    state.set_variable("threshold", "0.93", false).await.unwrap();

    for user in ["vera", "ed", "ada"] {
        let page = Browser::signed_in(&app, user).await.page("/variables").await;
        assert!(!page.contains("hunter2-clear-value") && !page.contains("ticked-secret-value"), "{page}");
        assert_eq!(page.matches("<td class=\"mono wrap\">***</td>").count(), 2, "{page}");
        assert_eq!(page.matches(r#"<span class="badge secret">secret</span>"#).count(), 2, "{page}");
        assert!(page.contains("0.93"), "{page}");
        assert!(page.contains("Variables</span>"), "the breadcrumb: {page}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn editors_set_and_delete_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = pipeline_store(&store, dir.path());
    let ed = Browser::signed_in(&app, "ed").await;
    let empty = ed.page("/variables").await;
    assert!(empty.contains("No variables yet"), "{empty}");
    assert!(empty.contains(r#"action="/variables""#), "{empty}");

    let set = ed.post("/variables", &[("key", "threshold"), ("value", "0.9")]).await;
    assert_eq!(location(&set), "/variables?set=threshold");
    let page = ed.page("/variables?set=threshold").await;
    assert!(page.contains("Set threshold.") && page.contains("0.9"), "{page}");
    ed.post("/variables", &[("key", "threshold"), ("value", "0.95")]).await;
    let threshold = state.get_variable("threshold").await.unwrap().unwrap();
    assert_eq!((threshold.value.as_str(), threshold.encrypted), ("0.95", false));

    // Named like a secret: encrypted though the box is not ticked, as the CLI does.
    ed.post("/variables", &[("key", "slack_token"), ("value", "xoxb-clear-value")]).await;
    ed.post("/variables", &[("key", "region"), ("value", "eu-clear-value"), ("secret", "on")]).await;
    for key in ["slack_token", "region"] {
        let stored = state.get_variable(key).await.unwrap().unwrap();
        assert!(stored.encrypted && !stored.value.contains("clear-value"), "{key} is stored encrypted");
    }
    assert_eq!(
        state.clear_value(&state.get_variable("region").await.unwrap().unwrap()).unwrap(),
        "eu-clear-value"
    );
    let page = ed.page("/variables").await;
    assert!(!page.contains("clear-value"), "{page}");

    let deleted = ed.post(&format!("/variables/{}/delete", "threshold"), &[]).await;
    assert_eq!(location(&deleted), "/variables?deleted=threshold");
    assert!(state.get_variable("threshold").await.unwrap().is_none());
    assert!(page.contains(r#"data-confirm="Delete variable threshold?"#), "asks first: {page}");
    let again = ed.post("/variables/threshold/delete", &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.text().contains(&escaped("no variable 'threshold'")), "{}", again.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_variable_key_is_refused_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let ed = Browser::signed_in(&app, "ed").await;
    for key in ["bad key!", "", "dotted.name"] {
        let refused = ed.post("/variables", &[("key", key), ("value", "plain value")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{key:?}");
        let page = refused.text();
        assert!(page.contains("may use only letters, digits and"), "{page}");
        assert!(page.contains(r#"role="alert""#) && page.contains("Set a variable"), "inline: {page}");
        assert!(page.contains(r#"value="plain value""#), "the form keeps what was typed: {page}");
    }
    let secret =
        ed.post("/variables", &[("key", "bad key"), ("value", "typed-secret"), ("secret", "on")]).await;
    assert_eq!(secret.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!secret.text().contains("typed-secret"), "a secret is not written back");
    assert!(PipelineStore::new(store).variables().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_and_other_sites_cannot_change_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = pipeline_store(&store, dir.path());
    state.set_variable("threshold", "0.9", false).await.unwrap();

    let vera = Browser::signed_in(&app, "vera").await;
    let page = vera.page("/variables").await;
    assert!(page.contains("threshold") && !page.contains("<form class=\"card admin-form\""), "{page}");
    assert!(!page.contains("Delete"), "{page}");
    assert_eq!(vera.post("/variables", &[("key", "x"), ("value", "1")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(vera.post("/variables/threshold/delete", &[]).await.status, StatusCode::FORBIDDEN);

    let ed = Browser::signed_in(&app, "ed").await;
    let forged = ed.post_from("/variables", &[("key", "x"), ("value", "1")], "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let forged = ed.post_from("/variables/threshold/delete", &[], "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(state.variables().await.unwrap().len(), 1, "nothing changed");

    let anonymous = Browser::new(&app);
    assert_eq!(location(&anonymous.get("/variables").await), "/login?next=%2Fvariables");
    assert!(
        location(&anonymous.post("/variables", &[("key", "x"), ("value", "1")]).await).starts_with("/login")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_pipelines_variables_belong_to_retrain_up() {
    let dir = tempfile::tempdir().unwrap();
    let app = tracking_app(dir.path()).await.build();
    let browser = Browser::new(&app);
    let page = browser.page("/variables").await;
    assert!(page.contains("variables belong to the pipelines `retrain up` runs"), "{page}");
    assert!(!page.contains("Set a variable"), "{page}");
    let refused = browser.post("/variables", &[("key", "x"), ("value", "1")]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_page_is_for_admins() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let token = store.create_token("ed", None).await.unwrap();
    let ada = Browser::signed_in(&app, "ada").await;
    let page = ada.page("/users").await;
    for name in ["vera", "ed", "ada"] {
        assert!(page.contains(&format!(r#"id="user-{name}""#)), "{page}");
    }
    assert!(page.contains(&token.id) && !page.contains(&token.secret), "tokens by id only: {page}");
    assert!(page.contains("<option selected>editor</option>"), "{page}");
    assert!(page.contains(r#"<span class="badge">you</span>"#), "{page}");
    assert!(page.contains(r#"data-confirm="Delete ed and their tokens?""#), "{page}");

    for user in ["ed", "vera"] {
        let browser = Browser::signed_in(&app, user).await;
        assert_eq!(browser.get("/users").await.status, StatusCode::FORBIDDEN, "{user}");
        assert!(!browser.page("/").await.contains(r#"href="/users""#), "no link for {user}");
        let add = browser.post("/users", &[("name", "x"), ("role", "admin"), ("generate", "on")]).await;
        assert_eq!(add.status, StatusCode::FORBIDDEN);
        assert_eq!(
            browser.post("/users/ada/role", &[("role", "viewer")]).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let forged = ada.post_from("/users/ed/delete", &[], "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(store.users().await.unwrap().len(), 3);
    assert_eq!(location(&Browser::new(&app).get("/users").await), "/login?next=%2Fusers");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_adds_users_who_can_then_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let ada = Browser::signed_in(&app, "ada").await;
    let add = |name: &'static str, role: &'static str, password: &'static str, again: &'static str| {
        let ada = &ada;
        async move {
            ada.post(
                "/users",
                &[("name", name), ("role", role), ("password", password), ("password_again", again)],
            )
            .await
        }
    };

    for (name, role, password, again, status, says) in [
        ("nora", "editor", "long enough 1", "long enough 2", 422, "the two passwords differ"),
        ("nora", "editor", "short", "short", 422, "at least 8 characters"),
        ("no way", "editor", "long enough", "long enough", 422, "must be 1 to 64 letters"),
        (
            "nora",
            "root",
            "long enough",
            "long enough",
            422,
            "is not a role; use one of viewer, editor, admin",
        ),
        ("ed", "editor", "long enough", "long enough", 409, "exists already"),
    ] {
        let refused = add(name, role, password, again).await;
        assert_eq!(refused.status.as_u16(), status, "{name} {role} {password}");
        assert!(refused.text().contains(&escaped(says)), "{says}: {}", refused.text());
        assert!(refused.text().contains("Add a user"), "the page again");
    }
    assert!(sign_in(&app, "nora", "long enough").await.is_err(), "not added");

    let added = add("nora", "editor", "nora's password", "nora's password").await;
    assert_eq!(location(&added), "/users?added=nora");
    let nora = sign_in(&app, "nora", "nora's password").await.map_err(|r| r.text()).unwrap();
    assert!(nora.page("/").await.contains("nora <span class=\"badge\">editor</span>"));

    let generated = ada.post("/users", &[("name", "gus"), ("role", "viewer"), ("generate", "on")]).await;
    let password = shown_secret(&generated);
    assert!(generated.text().contains("shown this once"), "{}", generated.text());
    let gus = sign_in(&app, "gus", &password).await.map_err(|r| r.text()).unwrap();
    assert!(gus.page("/").await.contains("gus <span class=\"badge\">viewer</span>"));
    assert!(!ada.page("/users").await.contains(&password), "shown once only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_change_holds_from_the_users_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let ada = Browser::signed_in(&app, "ada").await;
    let ed = Browser::signed_in(&app, "ed").await;
    assert!(ed.page("/variables").await.contains("Set a variable"));
    // Remembered as an editor for the next minute, unless forgotten.
    let ed_basic = basic("ed", &password_of("ed"));
    assert_eq!(api_status(&app, &ed_basic).await, StatusCode::OK);

    let changed = ada.post("/users/ed/role", &[("role", "viewer")]).await;
    assert_eq!(location(&changed), "/users?role=ed");
    assert!(ada.page("/users?role=ed").await.contains("Changed the role of ed."));
    let page = ed.page("/variables").await;
    assert!(
        !page.contains("Set a variable") && page.contains("ed <span class=\"badge\">viewer</span>"),
        "{page}"
    );
    assert_eq!(ed.post("/variables", &[("key", "x"), ("value", "1")]).await.status, StatusCode::FORBIDDEN);
    let write = send(
        &app,
        request(
            Method::POST,
            "/api/2.0/mlflow/experiments/create",
            &[
                (header::AUTHORIZATION.as_str(), &ed_basic),
                (header::CONTENT_TYPE.as_str(), "application/json"),
            ],
            Some(r#"{"name":"e"}"#.into()),
        ),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "the remembered check is forgotten: {}", write.text());

    let promoted = ada.post("/users/vera/role", &[("role", "admin")]).await;
    assert_eq!(location(&promoted), "/users?role=vera");
    assert_eq!(Browser::signed_in(&app, "vera").await.get("/users").await.status, StatusCode::OK);
    let unknown = ada.post("/users/nobody/role", &[("role", "viewer")]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains(&escaped("no user named 'nobody'")));
    let bad = ada.post("/users/ed/role", &[("role", "root")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_password_replaces_the_old_one_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let ada = Browser::signed_in(&app, "ada").await;
    let ed = Browser::signed_in(&app, "ed").await;
    let old = basic("ed", &password_of("ed"));
    assert_eq!(api_status(&app, &old).await, StatusCode::OK);

    let differ =
        ada.post("/users/ed/password", &[("password", "a new password"), ("password_again", "other")]).await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.text().contains("the two passwords differ; nothing changed"));
    let short = ada.post("/users/ed/password", &[("password", "short"), ("password_again", "short")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);

    let reset = ada
        .post("/users/ed/password", &[("password", "a new password"), ("password_again", "a new password")])
        .await;
    assert_eq!(location(&reset), "/users?password=ed");
    assert_eq!(api_status(&app, &old).await, StatusCode::UNAUTHORIZED, "the old password stops at once");
    assert!(sign_in(&app, "ed", &password_of("ed")).await.is_err());
    assert_eq!(location(&ed.get("/").await), "/login", "ed's browser session ended");
    assert!(sign_in(&app, "ed", "a new password").await.is_ok());

    let generated = ada.post("/users/ed/password", &[("generate", "on")]).await;
    let password = shown_secret(&generated);
    assert!(sign_in(&app, "ed", "a new password").await.is_err());
    assert!(sign_in(&app, "ed", &password).await.is_ok());
    assert_eq!(ada.post("/users/nobody/password", &[("generate", "on")]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_made_for_a_user_and_revoked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let ada = Browser::signed_in(&app, "ada").await;
    let made = ada.post("/users/ed/tokens", &[("expires", "")]).await;
    let secret = shown_secret(&made);
    assert!(secret.starts_with("rt_"), "{secret}");
    let bearer = format!("Bearer {secret}");
    assert_eq!(api_status(&app, &bearer).await, StatusCode::OK);
    let id = store.tokens(Some("ed")).await.unwrap()[0].id.clone();
    assert!(made.text().contains(&id), "{}", made.text());
    let page = ada.page("/users").await;
    assert!(page.contains(&id) && !page.contains(&secret), "{page}");
    assert!(page.contains(&format!(r#"data-confirm="Revoke token {id} of ed?"#)), "{page}");

    let expiring = ada.post("/users/vera/tokens", &[("expires", "90d")]).await;
    shown_secret(&expiring);
    assert!(store.tokens(Some("vera")).await.unwrap()[0].expires_at.is_some());
    let bad = ada.post("/users/vera/tokens", &[("expires", "soon")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
    assert!(bad.text().contains("soon"), "{}", bad.text());
    assert_eq!(ada.post("/users/nobody/tokens", &[]).await.status, StatusCode::NOT_FOUND);

    let not_theirs = ada.post(&format!("/users/vera/tokens/{id}/revoke"), &[]).await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(api_status(&app, &bearer).await, StatusCode::OK);
    let revoked = ada.post(&format!("/users/ed/tokens/{id}/revoke"), &[]).await;
    assert_eq!(location(&revoked), format!("/users?revoked={id}"));
    assert_eq!(api_status(&app, &bearer).await, StatusCode::UNAUTHORIZED, "refused at once");
    let forged = ada.post_from("/users/vera/tokens", &[], "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_be_demoted_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let ada = Browser::signed_in(&app, "ada").await;
    let demoted = ada.post("/users/ada/role", &[("role", "editor")]).await;
    assert_eq!(demoted.status, StatusCode::CONFLICT);
    assert!(demoted.text().contains("the only admin; add another admin before"), "{}", demoted.text());
    let deleted = ada.post("/users/ada/delete", &[]).await;
    assert_eq!(deleted.status, StatusCode::CONFLICT);
    assert!(deleted.text().contains("the only admin"), "{}", deleted.text());
    assert_eq!(ada.get("/users").await.status, StatusCode::OK, "still admin");

    let ed = Browser::signed_in(&app, "ed").await;
    let gone = ada.post("/users/ed/delete", &[]).await;
    assert_eq!(location(&gone), "/users?deleted=ed");
    assert_eq!(location(&ed.get("/").await), "/login", "a deleted user's session ends");
    assert!(store.users().await.unwrap().iter().all(|u| u.name != "ed"));
    assert_eq!(ada.post("/users/ed/delete", &[]).await.status, StatusCode::NOT_FOUND);
}
