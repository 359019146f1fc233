//! `retrain server` as a process, and `retrain runs` / `retrain models`
//! against it.

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{Value, json};

use crate::common::free_port;

struct ServerProcess {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> ServerProcess {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Process::new(assert_cmd::cargo::cargo_bin("retrain"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--backend-store-uri", &format!("sqlite:///{}", dir.path().join("db.sqlite").display())])
        .args(["--artifacts-destination", dir.path().join("artifacts").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "retrain server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ServerProcess { child, url, _dir: dir }
}

fn call(url: &str, endpoint: &str, body: Value) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/api/2.0/mlflow/{endpoint}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{endpoint}: {}", response.status());
        response.json().await.unwrap()
    })
}

fn retrain(url: &str) -> Command {
    let mut cmd = Command::cargo_bin("retrain").unwrap();
    cmd.env("MLFLOW_TRACKING_URI", url).env("RUST_LOG", "warn");
    cmd
}

#[test]
fn runs_and_models_commands_over_the_rest_api() {
    let server = start_server();
    let url = server.url.as_str();
    let experiment = call(url, "experiments/create", json!({"name": "iris"}))["experiment_id"].clone();
    let mut run_ids = Vec::new();
    for (name, accuracy) in [("rf", 0.97), ("knn", 0.91)] {
        let run = call(url, "runs/create", json!({"experiment_id": experiment, "run_name": name}));
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
        call(
            url,
            "runs/log-metric",
            json!({"run_id": run_id, "key": "accuracy", "value": accuracy, "timestamp": 1}),
        );
        run_ids.push(run_id);
    }
    retrain(url)
        .args(["runs", "list", "--experiment", "iris", "--order-by", "metrics.accuracy DESC"])
        .assert()
        .success()
        .stdout(contains("rf").and(contains("accuracy=0.9700")).and(contains("knn")));
    retrain(url)
        .args(["runs", "list", "--experiment", "iris", "--filter", "metrics.accuracy < 0.95"])
        .assert()
        .success()
        .stdout(contains("knn").and(contains("rf ").not()));
    retrain(url)
        .args(["runs", "show", &run_ids[0]])
        .assert()
        .success()
        .stdout(contains("\"run_name\": \"rf\""));

    call(url, "registered-models/create", json!({"name": "iris-rf"}));
    for run_id in &run_ids {
        call(
            url,
            "model-versions/create",
            json!({"name": "iris-rf", "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        );
    }
    retrain(url)
        .args(["models", "promote", "iris-rf", "1", "--reason", "first model"])
        .assert()
        .success()
        .stdout(contains("iris-rf v1 is now in Production and @champion"));
    retrain(url).args(["models", "promote", "iris-rf", "2", "--reason", "retrained"]).assert().success();
    retrain(url).args(["models", "alias", "iris-rf", "challenger", "1"]).assert().success();
    retrain(url)
        .args(["models", "show", "iris-rf"])
        .assert()
        .success()
        .stdout(contains("Archived").and(contains("challenger")).and(contains("champion")));
    retrain(url)
        .args(["models", "list"])
        .assert()
        .success()
        .stdout(contains("iris-rf").and(contains("champion→v2")).and(contains("Production:v2")));
    retrain(url)
        .args(["models", "history", "iris-rf"])
        .assert()
        .success()
        .stdout(contains("first model").and(contains("retrained")).and(contains("\"Production\":[\"2\"]")));
    retrain(url)
        .args(["models", "history", "iris-rf", "--at", "2000-01-01"])
        .assert()
        .success()
        .stdout(contains("stages:  {}"));
    retrain(url).args(["models", "alias", "iris-rf", "challenger", "--delete"]).assert().success();

    retrain(url)
        .args(["models", "show", "nope"])
        .assert()
        .code(2)
        .stderr(contains("RESOURCE_DOES_NOT_EXIST").and(contains("nope")));
    retrain(url).args(["models", "alias", "iris-rf", "x"]).assert().code(2).stderr(contains("--delete"));
    retrain(url)
        .args(["models", "promote", "iris-rf", "2", "--stage", "Live"])
        .assert()
        .code(2)
        .stderr(contains("Invalid Model Version stage"));
    retrain("http://127.0.0.1:9")
        .args(["runs", "show", "x"])
        .assert()
        .code(1)
        .stderr(contains("cannot reach"));
}
