//! The experiments pages: the list, a runs table whose whole view lives
//! in its address, a run with its charts and artifacts, and runs
//! compared side by side.

use std::path::Path;

use axum::http::{StatusCode, header};
use retrain_registry::entities::{Metric, Param, Tag};
use retrain_registry::{ArtifactStore, SqlStore};

use super::{Browser, escaped, location};
use crate::common::full_app;

/// A run of `experiment` named `name` with `model` and `accuracy`, and a
/// loss logged over three steps.
async fn run(store: &SqlStore, experiment: &str, name: &str, model: &str, accuracy: f64) -> String {
    let run = store.create_run(experiment, "ed", Some(name), None, &[]).await.unwrap();
    let id = run.info.run_id;
    let metric =
        |key: &str, value: f64, step: i64| Metric { key: key.into(), value, timestamp: 1_000 + step, step };
    let metrics = [
        metric("accuracy", accuracy, 0),
        metric("loss", 0.9, 0),
        metric("loss", 0.5, 1),
        metric("loss", 0.2, 2),
    ];
    let params = [Param { key: "model".into(), value: model.into() }];
    store.log_batch(&id, &metrics, &params, &[]).await.unwrap();
    id
}

async fn experiment_with_runs(store: &SqlStore) -> (String, Vec<String>) {
    let experiment = store.create_experiment("iris", None, &[]).await.unwrap();
    let mut ids = Vec::new();
    for (name, model, accuracy) in [("rf-1", "rf", 0.91), ("lr-1", "lr", 0.97), ("rf-2", "rf", 0.85)] {
        ids.push(run(store, &experiment, name, model, accuracy).await);
    }
    (experiment, ids)
}

/// Where `text` first appears in `page`.
fn at(page: &str, text: &str) -> usize {
    page.find(text).unwrap_or_else(|| panic!("{text} is not on the page: {page}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_shows_experiments_and_reads_its_filter_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let experiment = store.create_experiment("iris-daily", None, &[]).await.unwrap();
    store.create_experiment("churn", None, &[]).await.unwrap();

    let page = vera.page("/experiments").await;
    assert!(
        page.contains(&format!(r#"href="{}""#, escaped(&format!("/experiments/{experiment}")))),
        "{page}"
    );
    assert!(page.contains("churn"), "{page}");

    let filtered = vera.page("/experiments?filter=name+LIKE+%27iris%25%27").await;
    assert!(filtered.contains("iris-daily") && !filtered.contains("churn"), "{filtered}");

    let wrong = vera.get("/experiments?filter=name+%3D%3D%3D").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text().contains("The filter does not read"), "{}", wrong.text());

    assert_eq!(location(&Browser::new(&app).get("/experiments").await), "/login?next=%2Fexperiments");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runs_table_is_sorted_filtered_and_shaped_by_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let (experiment, _) = experiment_with_runs(&store).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let table = format!("/experiments/{experiment}");

    // Without columns in the address, the runs' metrics and params show.
    let page = vera.page(&table).await;
    for shown in ["accuracy", "loss", "model", "0.97", "rf-2", r#"name="runs""#] {
        assert!(page.contains(shown), "{shown}: {page}");
    }

    // Sorted by a metric, best first; the header links the other order.
    let sorted = vera.page(&format!("{table}?order=metrics.accuracy+DESC&cols=metrics.accuracy")).await;
    assert!(
        at(&sorted, "lr-1") < at(&sorted, "rf-1") && at(&sorted, "rf-1") < at(&sorted, "rf-2"),
        "{sorted}"
    );
    assert!(sorted.contains(r#"aria-sort="descending""#), "{sorted}");
    assert!(sorted.contains(&escaped("order=metrics.accuracy+ASC&cols=metrics.accuracy")), "{sorted}");
    // Only the chosen column shows.
    assert!(!sorted.contains(">model<"), "{sorted}");

    // The API's filter grammar.
    let filtered =
        vera.page(&format!("{table}?filter=params.model+%3D+%27rf%27+and+metrics.accuracy+%3E+0.9")).await;
    assert!(
        filtered.contains("rf-1") && !filtered.contains("rf-2") && !filtered.contains("lr-1"),
        "{filtered}"
    );

    // A filter that does not parse is answered inline, with the form kept.
    let wrong = vera.get(&format!("{table}?filter=metrics.accuracy+%3E%3E+1")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let text = wrong.text();
    assert!(text.contains("The filter or the order does not read"), "{text}");
    assert!(text.contains(r#"value="metrics.accuracy &gt;&gt; 1""#), "{text}");

    // A column that is no kind of column is named.
    let odd = vera.page(&format!("{table}?cols=accuracy")).await;
    assert!(odd.contains("Column &#x27;accuracy&#x27; is left out"), "{odd}");

    let missing = vera.get("/experiments/999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runs_table_pages_through_many_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let experiment = store.create_experiment("many", None, &[]).await.unwrap();
    for i in 0..55 {
        store
            .create_run(&experiment, "ed", Some(&format!("run-{i:02}")), Some(1_000 + i), &[])
            .await
            .unwrap();
    }
    let vera = Browser::signed_in(&app, "vera").await;
    let first = vera.page(&format!("/experiments/{experiment}")).await;
    assert!(first.contains("run-54") && !first.contains("run-04"), "{first}");
    let next = first
        .split(r#"<a href=""#)
        .find_map(|s| s.split_once(r#"">Next page"#))
        .map(|(href, _)| href)
        .unwrap();
    let next = next.replace("&amp;", "&").replace("&#x2f;", "/");
    let second = vera.page(&next).await;
    assert!(second.contains("run-04") && !second.contains("run-54"), "{second}");
    assert!(second.contains("First page"), "{second}");
}

/// Files under the run's artifact root, as the artifact service keeps them.
async fn store_artifacts(dir: &Path, store: &SqlStore, run_id: &str, files: &[(&str, &[u8])]) {
    let run = store.get_run(run_id).await.unwrap();
    let root = run
        .info
        .artifact_uri
        .strip_prefix(retrain_server::ARTIFACT_ROOT)
        .unwrap()
        .trim_matches('/')
        .to_owned();
    let artifacts = ArtifactStore::open(&dir.join("artifacts").to_string_lossy()).unwrap();
    for (path, bytes) in files {
        artifacts.put(&format!("{root}/{path}"), bytes.to_vec().into()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_shows_what_it_logged_its_charts_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let (experiment, ids) = experiment_with_runs(&store).await;
    let id = &ids[0];
    let instance =
        Tag { key: "retrain.task_instance".into(), value: "retrain_iris/manual__2026-11-08/register".into() };
    store.set_tag(id, &instance).await.unwrap();
    store.set_tag(id, &Tag { key: "team".into(), value: "<b>ml</b>".into() }).await.unwrap();
    store.create_registered_model("iris", "", &[]).await.unwrap();
    store.create_model_version("iris", "models:/m", Some(id), None, &[], None, "", "ed").await.unwrap();
    let vera = Browser::signed_in(&app, "vera").await;
    let page_path = format!("/experiments/{experiment}/runs/{id}");

    let page = vera.page(&page_path).await;
    for shown in [
        "rf-1",
        "0.91",
        r##"<a href="#chart-loss">loss</a>"##,
        r#"data-chart"#,
        "&lt;b&gt;ml&lt;&#x2f;b&gt;",
        &escaped("/models/iris/versions/1"),
        &escaped("/pipelines/retrain_iris/runs/manual__2026-11-08/tasks/register"),
        "This run stored no artifacts.",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    // A single point is a number, not a chart.
    assert!(!page.contains(r#"id="chart-accuracy""#), "{page}");
    assert!(page.contains(r#"data-x-time="false""#), "{page}");

    let over_time = vera.page(&format!("{page_path}?x=time&log=1")).await;
    assert!(
        over_time.contains(r#"data-x-time="true""#) && over_time.contains(r#"data-log-y="true""#),
        "{over_time}"
    );

    let elsewhere = vera.get(&format!("/experiments/{experiment}/runs/{}", "0".repeat(32))).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let other = store.create_experiment("other", None, &[]).await.unwrap();
    assert_eq!(vera.get(&format!("/experiments/{other}/runs/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runs_artifacts_are_browsed_previewed_and_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let (experiment, ids) = experiment_with_runs(&store).await;
    let id = &ids[0];
    let png: &[u8] = b"\x89PNG\r\n\x1a\nnot really";
    store_artifacts(
        dir.path(),
        &store,
        id,
        &[
            ("model/MLmodel", b"flavors:\n  retrain: {}\n"),
            ("model/metrics.json", br#"{"accuracy":0.91}"#),
            ("predictions.csv", b"id,label\n1,<setosa>\n2,virginica\n"),
            ("confusion.png", png),
        ],
    )
    .await;
    let vera = Browser::signed_in(&app, "vera").await;
    let run_path = format!("/experiments/{experiment}/runs/{id}");

    let root = vera.page(&run_path).await;
    assert!(root.contains(">model/</a>") && root.contains(">predictions.csv</a>"), "{root}");

    let model_dir = vera.page(&format!("{run_path}?path=model")).await;
    assert!(model_dir.contains(">MLmodel</a>") && model_dir.contains(">metrics.json</a>"), "{model_dir}");

    let json = vera.page(&format!("{run_path}?path=model%2Fmetrics.json")).await;
    assert!(json.contains("{\n  &quot;accuracy&quot;: 0.91\n}"), "{json}");

    let csv = vera.page(&format!("{run_path}?path=predictions.csv")).await;
    assert!(csv.contains("<th>label</th>") && csv.contains("<td>&lt;setosa&gt;</td>"), "{csv}");

    let image = vera.page(&format!("{run_path}?path=confusion.png")).await;
    assert!(
        image.contains(&format!(r#"<img src="{}/artifact?path=confusion.png""#, escaped(&run_path))),
        "{image}"
    );
    let served = vera.get(&format!("{run_path}/artifact?path=confusion.png")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(&served.body[..], png);

    let download = vera.get(&format!("{run_path}/artifact?path=predictions.csv")).await;
    assert_eq!(download.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(download.headers[header::CONTENT_DISPOSITION], r#"attachment; filename="predictions.csv""#);

    let gone = vera.page(&format!("{run_path}?path=nothing%2Fhere")).await;
    assert!(gone.contains("This run has no artifact at"), "{gone}");
    assert_eq!(vera.get(&format!("{run_path}/artifact?path=nothing")).await.status, StatusCode::NOT_FOUND);
    let escape = vera.get(&format!("{run_path}/artifact?path=..%2F..%2Fetc%2Fpasswd")).await;
    assert_eq!(escape.status, StatusCode::BAD_REQUEST, "{}", escape.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_are_compared_side_by_side_two_to_ten_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let (_, ids) = experiment_with_runs(&store).await;
    let vera = Browser::signed_in(&app, "vera").await;

    let page = vera.page(&format!("/experiments/compare?runs={}&runs={}", ids[0], ids[2])).await;
    assert!(page.contains("Compare 2 runs"), "{page}");
    // Both are random forests; their accuracies differ.
    let model_row = &page[at(&page, "<td>model</td>") - 40..at(&page, "<td>model</td>")];
    assert!(!model_row.contains("diff"), "{page}");
    let accuracy_row = &page[at(&page, "<td>accuracy</td>") - 60..at(&page, "<td>accuracy</td>")];
    assert!(accuracy_row.contains(r#"class="diff""#), "{page}");
    // Each metric with a history is one chart with a line per run.
    assert!(page.contains("data-chart") && page.contains("rf-1") && page.contains("rf-2"), "{page}");

    let one = vera.get(&format!("/experiments/compare?runs={}", ids[0])).await;
    assert_eq!(one.status, StatusCode::BAD_REQUEST);
    assert!(one.text().contains("Compare 2 to 10 runs"), "{}", one.text());
    let eleven: Vec<String> = (0..11).map(|i| format!("runs={i:032x}")).collect();
    assert_eq!(
        vera.get(&format!("/experiments/compare?{}", eleven.join("&"))).await.status,
        StatusCode::BAD_REQUEST
    );
    let unknown = vera.get(&format!("/experiments/compare?runs={}&runs={}", ids[0], "f".repeat(32))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_experiment_without_runs_says_how_to_get_some() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    assert!(vera.page("/experiments").await.contains("Default"));
    let experiment = store.create_experiment("fresh", None, &[]).await.unwrap();
    let page = vera.page(&format!("/experiments/{experiment}")).await;
    assert!(page.contains("No runs in this experiment yet"), "{page}");
}
