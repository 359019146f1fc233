//! The models pages and their actions: the list, a model with its
//! versions, serving and audit trail, a version, and the moves of a
//! version, each confirmed with a reason and refused to viewers.

use axum::http::StatusCode;
use retrain_registry::SqlStore;
use retrain_registry::entities::Metric;

use super::{Browser, escaped, location};
use crate::common::full_app;

#[tokio::test(flavor = "multi_thread")]
async fn the_models_list_shows_each_champion() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    store.create_registered_model("churn", "", &[]).await.unwrap();
    for _ in 0..2 {
        store.create_model_version("churn", "models:/m", None, None, &[], None, "", "ed").await.unwrap();
    }
    store.set_alias("churn", "champion", "2", "ed", "better recall").await.unwrap();

    let page = Browser::signed_in(&app, "vera").await.page("/models").await;
    assert!(page.contains("churn"), "{page}");
    assert!(page.contains("version 2"), "{page}");

    assert_eq!(location(&Browser::new(&app).get("/models").await), "/login?next=%2Fmodels");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_registry_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let page = Browser::signed_in(&app, "vera").await.page("/models").await;
    assert!(page.contains("No registered models yet"), "{page}");
}

/// Model `churn` with three versions from runs of rising accuracy;
/// version 1 is champion and in Production.
async fn churn(store: &SqlStore) -> Vec<String> {
    let experiment = store.create_experiment("churn", None, &[]).await.unwrap();
    store.create_registered_model("churn", "", &[]).await.unwrap();
    let mut runs = Vec::new();
    for accuracy in [0.81, 0.86, 0.79] {
        let run = store.create_run(&experiment, "ed", None, None, &[]).await.unwrap();
        let metric = Metric { key: "accuracy".into(), value: accuracy, timestamp: 1, step: 0 };
        store.log_batch(&run.info.run_id, &[metric], &[], &[]).await.unwrap();
        store
            .create_model_version("churn", "models:/m", Some(&run.info.run_id), None, &[], None, "", "ed")
            .await
            .unwrap();
        runs.push(run.info.run_id);
    }
    store.transition_stage("churn", "1", "Production", true, "ed", "first model").await.unwrap();
    store.set_alias("churn", "champion", "1", "ed", "first model").await.unwrap();
    runs
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_page_shows_versions_serving_and_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let runs = churn(&store).await;
    let vera = Browser::signed_in(&app, "vera").await;

    let page = vera.page("/models/churn").await;
    for shown in [
        "@champion",
        &escaped("/models/churn/versions/3"),
        &escaped(&format!("/runs/{}", runs[1])),
        "0.86",
        "POST &#x2f;models&#x2f;churn&#x2f;invocations",
        "version 1 became @champion, by ed: “first model”",
        "version 1 entered Production, by ed",
        r#"type="date""#,
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    // Newest version first.
    let table = &page[page.find(r#"id="versions""#).unwrap()..];
    assert!(table.find("version 3</a>").unwrap() < table.find("version 1</a>").unwrap(), "{page}");
    // A viewer gets no button that changes the registry.
    assert!(!page.contains("/aliases/champion/delete"), "{page}");

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let then = vera.page(&format!("/models/churn?at={today}")).await;
    assert!(then.contains(&format!("At the end of {today}")) && then.contains("Production: <a"), "{then}");
    let before = vera.page("/models/churn?at=2020-01-01").await;
    assert!(before.contains("No version held a stage or an alias yet."), "{before}");
    let wrong = vera.get("/models/churn?at=yesterday").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text().contains("does not read as YYYY-MM-DD"), "{}", wrong.text());

    assert_eq!(vera.get("/models/nothing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(vera.get("/models/churn/versions/9").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_page_shows_its_run_and_history_and_editors_its_actions() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    churn(&store).await;

    let vera = Browser::signed_in(&app, "vera").await.page("/models/churn/versions/1").await;
    for shown in ["Production", "accuracy", "0.81", "version 1 became @champion"] {
        assert!(vera.contains(shown), "{shown}: {vera}");
    }
    assert!(!vera.contains("Promote to champion") && !vera.contains("Set alias"), "{vera}");

    let ed = Browser::signed_in(&app, "ed").await.page("/models/churn/versions/2").await;
    assert!(ed.contains("Promote to champion") && ed.contains("Set alias") && ed.contains("Archive"), "{ed}");
    assert!(ed.contains("This version has not held a stage or an alias yet."), "{ed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_says_what_it_will_change_and_needs_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    churn(&store).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let path = "/models/churn/versions/2/move";

    let asked = ed.post(path, &[("action", "promote")]).await;
    assert_eq!(asked.status, StatusCode::OK);
    let text = asked.text();
    for shown in [
        "@champion moves from version 1 to version 2.",
        "Version 2 moves from None to Production.",
        "Version 1 leaves Production for Archived.",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert_eq!(store.get_version_by_alias("churn", "champion").await.unwrap().version, "1");

    let no_reason = ed.post(path, &[("action", "promote"), ("confirmed", "1"), ("reason", "  ")]).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.text().contains("Say why"), "{}", no_reason.text());
    assert_eq!(store.get_version_by_alias("churn", "champion").await.unwrap().version, "1");

    let done =
        ed.post(path, &[("action", "promote"), ("confirmed", "1"), ("reason", "beats 1 on recall")]).await;
    assert_eq!(location(&done), "/models/churn#audit");
    assert_eq!(store.get_version_by_alias("churn", "champion").await.unwrap().version, "2");
    assert_eq!(store.get_model_version("churn", "2").await.unwrap().current_stage, "Production");
    assert_eq!(store.get_model_version("churn", "1").await.unwrap().current_stage, "Archived");
    let events = store.registry_events("churn", None).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!((last.actor.as_str(), last.reason.as_str()), ("ed", "beats 1 on recall"));

    let page = ed.page("/models/churn").await;
    assert!(page.contains("version 2 became @champion (was 1), by ed: “beats 1 on recall”"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_and_stages_move_and_wrong_forms_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    churn(&store).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let path = "/models/churn/versions/3/move";

    let alias = [("action", "alias"), ("alias", "challenger"), ("confirmed", "1"), ("reason", "try it")];
    assert!(ed.post(path, &alias).await.status.is_redirection());
    assert_eq!(store.get_version_by_alias("churn", "challenger").await.unwrap().version, "3");

    let archive = [("action", "stage"), ("stage", "archived"), ("confirmed", "1"), ("reason", "worse")];
    assert!(ed.post(path, &archive).await.status.is_redirection());
    assert_eq!(store.get_model_version("churn", "3").await.unwrap().current_stage, "Archived");

    let asked = ed.post("/models/churn/aliases/challenger/delete", &[]).await;
    assert!(asked.text().contains("@challenger is removed from version 3"), "{}", asked.text());
    let removed =
        ed.post("/models/churn/aliases/challenger/delete", &[("confirmed", "1"), ("reason", "done")]).await;
    assert!(removed.status.is_redirection());
    assert!(store.get_version_by_alias("churn", "challenger").await.is_err());

    for (form, status) in [
        (vec![("action", "stage"), ("stage", "Prod")], StatusCode::UNPROCESSABLE_ENTITY),
        (vec![("action", "alias"), ("alias", " ")], StatusCode::UNPROCESSABLE_ENTITY),
        (vec![("action", "explode")], StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let reply = ed.post(path, &form).await;
        assert_eq!(reply.status, status, "{form:?}: {}", reply.text());
    }
    let bad_alias =
        ed.post(path, &[("action", "alias"), ("alias", "latest"), ("confirmed", "1"), ("reason", "x")]).await;
    assert_eq!(bad_alias.status, StatusCode::BAD_REQUEST, "{}", bad_alias.text());
    assert_eq!(
        ed.post("/models/churn/versions/9/move", &[("action", "promote")]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(ed.post("/models/churn/aliases/nothing/delete", &[]).await.status, StatusCode::NOT_FOUND);

    // Viewers and other sites are refused, and nothing moves.
    let promote = [("action", "promote"), ("confirmed", "1"), ("reason", "x")];
    let vera = Browser::signed_in(&app, "vera").await;
    assert_eq!(vera.post(path, &promote).await.status, StatusCode::FORBIDDEN);
    assert_eq!(ed.post_from(path, &promote, "cross-site").await.status, StatusCode::FORBIDDEN);
    assert_eq!(store.get_version_by_alias("churn", "champion").await.unwrap().version, "1");
}
