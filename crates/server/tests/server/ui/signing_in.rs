//! Signing in and out of the UI, what every page carries, and the
//! overview: pages send an anonymous browser to the sign-in page and back,
//! a session cookie works until sign-out, a change posted from another
//! site is refused, and the buttons follow the role.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use chrono::Utc;
use retrain_flow::project::Project;
use retrain_flow::state::{PipelineRun, RunState, TaskState};
use retrain_flow::store::PipelineStore;
use retrain_registry::entities::Metric;
use retrain_registry::{SqlStore, now_ms};

use super::{Browser, escaped, location};
use crate::common::{full_app, tracking_app};

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_signs_in_and_comes_back_where_it_was_going() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let anonymous = Browser::new(&app);
    assert_eq!(location(&anonymous.get("/").await), "/login");
    assert_eq!(location(&anonymous.get("/?tab=models&x=1").await), "/login?next=%2F%3Ftab%3Dmodels%26x%3D1");
    let form = anonymous.page("/login?next=/models").await;
    assert!(form.contains(r#"name="password""#), "{form}");
    assert!(form.contains(&format!(r#"value="{}""#, escaped("/models"))), "{form}");

    let wrong =
        anonymous.post("/login", &[("username", "ed"), ("password", "nope"), ("next", "/models")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("Wrong user name or password"), "{}", wrong.text());
    assert!(!wrong.headers.contains_key(header::SET_COOKIE));
    let unknown = anonymous.post("/login", &[("username", "nobody"), ("password", "nope")]).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "an unknown user is answered like a wrong password");

    let right = anonymous
        .post("/login", &[("username", "ed"), ("password", "ed-password"), ("next", "/models")])
        .await;
    assert_eq!(location(&right), "/models");
    let cookie = right.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let elsewhere = anonymous
        .post("/login", &[("username", "ed"), ("password", "ed-password"), ("next", "//evil.example")])
        .await;
    assert_eq!(location(&elsewhere), "/", "never sent to another site");

    let ed = Browser::signed_in(&app, "ed").await;
    let overview = ed.page("/").await;
    assert!(overview.contains("ed <span class=\"badge\">editor</span>"), "{overview}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let ed = Browser::signed_in(&app, "ed").await;
    ed.page("/").await;
    let out = ed.post("/logout", &[]).await;
    assert_eq!(location(&out), "/login");
    assert!(out.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    // The old cookie, sent again, is no session any more.
    assert_eq!(location(&ed.get("/").await), "/login");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_posted_from_another_site_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let forged = ed.post_from("/logout", &[], "cross-site").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text());
    assert!(forged.text().contains("another site"), "{}", forged.text());
    ed.page("/").await;

    let anonymous = Browser::new(&app);
    let forged_login =
        anonymous.post_from("/login", &[("username", "ed"), ("password", "ed-password")], "cross-site").await;
    assert_eq!(forged_login.status, StatusCode::FORBIDDEN);
    assert!(!forged_login.headers.contains_key(header::SET_COOKIE));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_allow_only_their_own_script_and_styles() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    for path in ["/", "/login", "/static/style.css", "/no/such/page"] {
        let reply = vera.get(path).await;
        let policy = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    }
    let css = vera.get("/static/style.css").await;
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(css.text().contains("prefers-color-scheme: dark"));
    let script = vera.get("/static/app.js").await;
    assert_eq!(script.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(vera.get("/static/nothing.js").await.status, StatusCode::NOT_FOUND);
    let missing = vera.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("There is no page at"), "{}", missing.text());
    let page = vera.page("/").await;
    assert!(!page.contains("<script>"), "no inline script");
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_assets_travel_gzipped_to_a_browser_that_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    for path in ["/", "/pipelines/retrain_iris", "/static/style.css"] {
        let plain = vera.get(path).await;
        assert!(!plain.headers.contains_key(header::CONTENT_ENCODING), "{path}: only when asked");
        let zipped = vera.get_with(path, &[(header::ACCEPT_ENCODING.as_str(), "gzip, deflate, br")]).await;
        assert_eq!(zipped.status, StatusCode::OK, "{path}");
        assert_eq!(zipped.headers[header::CONTENT_ENCODING], "gzip", "{path}");
        assert!(
            zipped.body.len() * 2 < plain.body.len(),
            "{path}: {} of {} bytes",
            zipped.body.len(),
            plain.body.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_menu_follows_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await.page("/").await;
    assert!(!vera.contains(r#"href="/users""#), "viewers have no Users page");
    let ada = Browser::signed_in(&app, "ada").await.page("/").await;
    assert!(ada.contains(r#"href="/users""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_server_shows_its_pages_without_a_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let app = tracking_app(dir.path()).await.build();
    let browser = Browser::new(&app);
    let overview = browser.page("/").await;
    assert!(overview.contains("open server"), "{overview}");
    assert!(overview.contains("This server runs no pipelines"), "{overview}");
    assert_eq!(location(&browser.get("/login?next=/models").await), "/models");
}

async fn register_champion(store: &SqlStore) {
    let run = store.create_run("0", "ed", Some("train"), None, &[]).await.unwrap();
    let run_id = run.info.run_id;
    let accuracy = Metric { key: "accuracy".into(), value: 0.9667, timestamp: now_ms(), step: 0 };
    store.log_metric(&run_id, &accuracy).await.unwrap();
    store.create_registered_model("iris", "", &[]).await.unwrap();
    let source = format!("runs:/{run_id}/model");
    store.create_model_version("iris", &source, Some(&run_id), None, &[], None, "", "ed").await.unwrap();
    store
        .set_alias("iris", "champion", "1", "task:retrain_iris/r/promote", "beats the champion")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_each_champion_and_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let empty = vera.page("/").await;
    assert!(empty.contains("No registered models yet"), "{empty}");
    assert!(empty.contains("retrain_iris") && empty.contains("no runs yet"), "{empty}");

    register_champion(&store).await;
    let run_id = failed_run(dir.path(), store.clone()).await;
    let overview = vera.page("/").await;
    for shown in [
        "champion</span> version",
        "beats the champion",
        &escaped("task:retrain_iris/r/promote"),
        "0.9667",
        "Failed in the last 24 hours",
        "exit code 3: the data was empty",
        &format!(
            "/pipelines/retrain_iris/runs/{}/tasks/train?try=2",
            run_id.replace(':', "%3A").replace('+', "%2B")
        ),
    ] {
        assert!(overview.contains(shown), "{shown}: {overview}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_draws_the_registry_events_over_the_champions_metric() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    register_champion(&store).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let one_version = vera.page("/").await;
    assert!(one_version.contains("data-chart"), "{one_version}");

    let better = store.create_run("0", "ed", Some("train"), None, &[]).await.unwrap().info.run_id;
    let accuracy = Metric { key: "accuracy".into(), value: 0.9867, timestamp: now_ms(), step: 0 };
    store.log_metric(&better, &accuracy).await.unwrap();
    let source = format!("runs:/{better}/model");
    store.create_model_version("iris", &source, Some(&better), None, &[], None, "", "ed").await.unwrap();
    store.set_alias("iris", "champion", "2", "ed", "better on the holdout").await.unwrap();

    let overview = vera.page("/").await;
    let chart = overview.split("<svg").nth(1).expect("a chart").split("</svg>").next().unwrap();
    assert!(chart.contains("accuracy of the champion"), "{chart}");
    assert!(chart.contains("accuracy of each version registered"), "{chart}");
    assert!(
        chart.contains("version 2 became @champion (was 1), by ed: \u{201c}better on the holdout\u{201d}"),
        "{chart}"
    );
    assert!(chart.contains("version 1 became @champion, by task:retrain_iris/r/promote"), "{chart}");
    let champion_line = chart.split("data-label=\"accuracy of the champion\" data-values=\"").nth(1).unwrap();
    let values = champion_line.split('"').next().unwrap();
    assert!(
        values.contains(",0.9667 ") && values.ends_with(",0.9867"),
        "the champion's line steps up: {values}"
    );
}

/// A run of retrain_iris whose `train` failed on its second try, now.
async fn failed_run(dir: &std::path::Path, store: Arc<SqlStore>) -> String {
    let state = PipelineStore::new(store);
    let pipeline = Project::open(dir).unwrap().pipeline("retrain_iris").unwrap();
    let run = PipelineRun::manual(&pipeline, None, Default::default(), "scheduler", Utc::now());
    state.insert_run(&run).await.unwrap();
    let tasks: Vec<(String, u32)> = pipeline.tasks.keys().map(|t| (t.clone(), 2)).collect();
    state.start_run(&run, &tasks).await.unwrap();
    let mut train = state
        .task_instances("retrain_iris", &run.run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|ti| ti.task == "train")
        .unwrap();
    train.state = TaskState::Failed;
    train.try_number = 2;
    train.ended_at = Some(now_ms());
    train.message = Some("exit code 3: the data was empty".into());
    state.save(&train).await.unwrap();
    state.finish_run("retrain_iris", &run.run_id, RunState::Failed).await.unwrap();
    run.run_id
}
