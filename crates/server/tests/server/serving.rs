//! Model serving: every request format of MLflow's scoring protocol and
//! every kind of bad input, in-process; models served by name by the
//! tracking server, which resolves them through itself over a real socket;
//! and a hot swap under load over real HTTP — the `champion` alias moves
//! while eight clients send requests, and no request fails while responses
//! switch version exactly once per client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use retrain_ml::{ClassifierConfig, datasets, model};
use retrain_registry::MlflowClient;
use retrain_server::serving::{ModelHandle, ModelSource, ServingMetrics, ServingOptions, VERSION_HEADER};
use retrain_server::{App, Server};
use serde_json::{Value, json};

use crate::common::{Reply, request, send, start_retrain_server, tracking_app};

const COLUMNS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// Trains an iris forest into `dir`.
fn train_iris(dir: &Path, trees: usize, seed: u64) {
    let text =
        format!("name: iris-rf\nmodel: random_forest\nparams: {{n_estimators: {trees}}}\nseed: {seed}\n");
    let config = ClassifierConfig::parse(&text, Path::new("rf.yaml")).unwrap();
    let data = datasets::builtin("iris").unwrap();
    let (mut m, history) = model::train(&config, &data, &retrain_ml::progress::NoProgress).unwrap();
    m.save(dir, &history).unwrap();
}

async fn serve(handle: Arc<ModelHandle>) -> String {
    let server = Server::bind("127.0.0.1", 0)
        .await
        .unwrap()
        .spawn(App::single_model(handle, None), std::future::pending());
    server.url().to_owned()
}

/// Posts `body` to `uri` of `app`, with `content_type` when given.
async fn post(app: &Router, uri: &str, content_type: Option<&str>, body: &str) -> Reply {
    let headers: Vec<(&str, &str)> = content_type.map(|ct| ("content-type", ct)).into_iter().collect();
    send(app, request(Method::POST, uri, &headers, Some(body.to_owned()))).await
}

/// The status and the JSON answer (the text when it is not JSON).
async fn score(app: &Router, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let reply = post(app, "/invocations", content_type, body).await;
    let text = reply.text();
    (reply.status.as_u16(), serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn every_format_and_every_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    train_iris(dir.path(), 30, 1);
    let source = ModelSource::Dir(dir.path().to_path_buf());
    let handle = ModelHandle::open(source, Arc::new(ServingMetrics::default())).await.unwrap();
    let app = App::single_model(handle, None);
    let json_type = Some("application/json");

    let setosa = [5.1, 3.5, 1.4, 0.2];
    let virginica = [6.7, 3.0, 5.2, 2.3];
    let record = |row: [f64; 4]| -> Value {
        COLUMNS
            .iter()
            .zip(row)
            .map(|(c, v)| (c.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let good = [
        json!({"dataframe_split": {"columns": COLUMNS, "data": [setosa, virginica]}}),
        // Columns in another order are matched by name.
        json!({"dataframe_split": {"columns": ["petal_width", "petal_length", "sepal_width", "sepal_length"],
            "data": [[0.2, 1.4, 3.5, 5.1], [2.3, 5.2, 3.0, 6.7]], "index": [0, 1]}}),
        json!({"dataframe_records": [record(setosa), record(virginica)]}),
        json!({"instances": [record(setosa), record(virginica)]}),
        json!({"instances": [setosa, virginica]}),
        json!({"inputs": {"sepal_length": [5.1, 6.7], "sepal_width": [3.5, 3.0], "petal_length": [1.4, 5.2], "petal_width": [0.2, 2.3]}}),
        json!({"inputs": [setosa, virginica], "params": {}}),
    ];
    for body in good {
        let (status, answer) = score(&app, json_type, &body.to_string()).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer, json!({"predictions": ["setosa", "virginica"]}), "{body}");
    }
    let csv = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n";
    let (status, answer) = score(&app, Some("text/csv; charset=utf-8"), csv).await;
    assert_eq!((status, answer), (200, json!({"predictions": ["setosa", "virginica"]})));

    // Probabilities on request.
    let response =
        post(&app, "/invocations?proba=true", json_type, &json!({"instances": [setosa]}).to_string()).await;
    assert_eq!(response.headers[VERSION_HEADER], "local");
    let answer = response.json();
    assert_eq!(answer["classes"], json!(["setosa", "versicolor", "virginica"]));
    let p = answer["probabilities"][0].as_array().unwrap();
    assert!((p.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() - 1.0).abs() < 1e-9);

    let bad: [(Option<&str>, String, u16, &str); 12] = [
        (json_type, String::new(), 400, "empty"),
        (json_type, "{\"dataframe_split\": {".into(), 400, "not valid JSON"),
        (json_type, json!({"data": [setosa]}).to_string(), 400, "exactly one of"),
        (json_type, json!({"instances": [setosa], "inputs": [setosa]}).to_string(), 400, "exactly one of"),
        (json_type, json!({"dataframe_split": {"columns": &COLUMNS[..3], "data": [[5.1, 3.5, 1.4]]}}).to_string(), 400, "missing column(s) 'petal_width'"),
        (json_type, json!({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4]]}}).to_string(), 400, "has 3 values but there are 4 columns"),
        (json_type, json!({"dataframe_split": {"columns": [COLUMNS[0], COLUMNS[1], COLUMNS[2], COLUMNS[3], "colour"], "data": [[5.1, 3.5, 1.4, 0.2, 1]]}}).to_string(), 400, "unexpected column(s) 'colour'"),
        (json_type, json!({"dataframe_records": [{"sepal_length": "abc", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}).to_string(), 400, "column 'sepal_length': 'abc' is not a number"),
        (json_type, json!({"instances": [[1, 2, 3]]}).to_string(), 400, "expects 4 columns"),
        (Some("text/plain"), "x".into(), 415, "application/json or text/csv"),
        (None, json!({"instances": [setosa]}).to_string(), 415, "no Content-Type"),
        (Some("text/csv"), "sepal_length\nnot-a-number\n".into(), 400, "is not a number"),
    ];
    for (content_type, body, status, message) in bad {
        let (got, answer) = score(&app, content_type, &body).await;
        assert_eq!(got, status, "{body:?}: {answer}");
        assert_eq!(answer["error_code"], "BAD_REQUEST", "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(message), "{body:?}: {answer}");
    }
    // A wrong method and the health routes.
    let get = |uri: &'static str| send(&app, request(Method::GET, uri, &[], None));
    assert_eq!(get("/invocations").await.status, 405);
    assert_eq!(get("/ping").await.status, 200);
    let metrics = get("/metrics").await.text();
    assert!(metrics.contains("retrain_serving_requests_total"), "{metrics}");
    assert!(metrics.contains("status=\"415\""), "{metrics}");
    assert!(metrics.contains("retrain_serving_request_duration_seconds_bucket"), "{metrics}");
}

/// Logs `model_dir` as a run and registers it; returns the version.
async fn register(tracking: &MlflowClient, model_dir: &Path) -> String {
    let experiment = tracking.experiment_id("serving").await.unwrap();
    let run = tracking.create_run(&experiment, "train", &[]).await.unwrap();
    tracking.upload_dir(&run.info.artifact_uri, "model", model_dir).await.unwrap();
    tracking.ensure_registered_model("iris").await.unwrap();
    let source = format!("{}/model", run.info.artifact_uri);
    tracking.create_model_version("iris", &source, Some(&run.info.run_id), &[]).await.unwrap().version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_champion_is_swapped_under_load_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let tracking_url = start_retrain_server(dir.path()).await;
    let tracking = MlflowClient::new(&tracking_url).unwrap();
    for (name, trees, seed) in [("v1", 10, 1), ("v2", 20, 2)] {
        train_iris(&dir.path().join(name), trees, seed);
    }
    let v1 = register(&tracking, &dir.path().join("v1")).await;
    let v2 = register(&tracking, &dir.path().join("v2")).await;
    // A version whose files are damaged.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(dir.path().join("v1/metadata.json"), broken.join("metadata.json")).unwrap();
    std::fs::write(broken.join("model.bin"), b"RETRAIN\0 not a model").unwrap();
    let v3 = register(&tracking, &broken).await;
    tracking.set_alias("iris", "champion", &v1, "").await.unwrap();

    let source =
        ModelSource::parse("models:/iris@champion", Some(&tracking_url), &dir.path().join("cache")).unwrap();
    let metrics = Arc::new(ServingMetrics::default());
    let handle = ModelHandle::open(source, metrics.clone()).await.unwrap();
    handle.watch(Duration::from_millis(50));
    let url = serve(handle.clone()).await;

    const CLIENTS: usize = 8;
    const REQUESTS: usize = 150;
    let body = json!({"instances": [[5.1, 3.5, 1.4, 0.2]]}).to_string();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (url, body) = (url.clone(), body.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut versions = Vec::with_capacity(REQUESTS);
            for _ in 0..REQUESTS {
                let response = client
                    .post(format!("{url}/invocations"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                versions.push(response.headers()[VERSION_HEADER].to_str().unwrap().to_owned());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            versions
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    tracking.set_alias("iris", "champion", &v2, "swap under load").await.unwrap();
    let mut switched = 0;
    for client in clients {
        let versions = client.await.unwrap();
        assert_eq!(versions.len(), REQUESTS);
        // v1 … v1 v2 … v2: one switch, never back.
        let changes = versions.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(changes <= 1, "{versions:?}");
        assert_eq!(versions.last().unwrap(), &v2, "{versions:?}");
        switched += changes;
    }
    assert!(switched >= 1, "no client saw the swap");

    // A version that cannot be loaded is reported; v2 keeps serving.
    tracking.set_alias("iris", "champion", &v3, "").await.unwrap();
    let error = handle.refresh().await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("version {v3}")) && error.contains(&format!("version {v2} keeps serving")),
        "{error}"
    );
    assert_eq!(handle.current().version, v2);
    assert!(metrics.render().contains("retrain_serving_reload_failures_total{model=\"iris\"}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn registered_models_are_served_by_name() {
    // As `retrain up` serves them: by the tracking server, which resolves
    // them through its own REST API, so that part listens on a real port;
    // the scoring requests go to the same router in-process.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::bind("127.0.0.1", 0).await.unwrap();
    let tracking = MlflowClient::new(server.url()).unwrap();
    let serving = ServingOptions {
        tracking: tracking.clone(),
        cache: dir.path().join("cache"),
        poll: Duration::from_secs(1),
    };
    let app = tracking_app(dir.path()).await.serving(serving).build();
    let _server = server.spawn(app.clone(), std::future::pending());
    train_iris(&dir.path().join("v1"), 10, 1);
    let v1 = register(&tracking, &dir.path().join("v1")).await;
    tracking.set_alias("iris", "champion", &v1, "").await.unwrap();
    tracking.transition_stage("iris", &v1, "Staging", false, "").await.unwrap();
    let body = json!({"instances": [[6.7, 3.0, 5.2, 2.3]]}).to_string();
    for (query, status) in [
        ("", 200),
        ("?version=1", 200),
        ("?stage=Staging", 200),
        ("?alias=nope", 404),
        ("?alias=champion&version=1", 400),
    ] {
        let response =
            post(&app, &format!("/models/iris/invocations{query}"), Some("application/json"), &body).await;
        assert_eq!(response.status.as_u16(), status, "{query}");
        let answer = response.json();
        if status == 200 {
            assert_eq!(answer, json!({"predictions": ["virginica"]}), "{query}");
        } else {
            assert!(answer["message"].is_string(), "{answer}");
        }
    }
}
