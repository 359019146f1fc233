//! `MlflowClient`, the Rust MLflow client, against `retrain server` (always)
//! and against a real `mlflow server` when `MLFLOW_SERVER_URL` names one
//! (the MLflow tier of `.ci/run` starts it; `tests/mlflow/run.sh` runs this
//! module alone: `cargo test -p retrain-server --test server mlflow_client`).

use retrain_registry::entities::{Metric, Param, Tag};
use retrain_registry::{ErrorCode, MlflowClient, ModelUri};

fn uri(text: &str) -> ModelUri {
    ModelUri::parse(text).unwrap()
}

use crate::common::start_retrain_server;

/// Logs a run with params, metrics and a model directory, registers it,
/// points `champion` at it, resolves `models:/NAME@champion` and downloads
/// the model back.
async fn log_register_resolve_download(store: &MlflowClient) {
    let suffix = uuid_suffix();
    let experiment = store.experiment_id(&format!("rest-{suffix}")).await.unwrap();
    assert_eq!(store.experiment_id(&format!("rest-{suffix}")).await.unwrap(), experiment, "idempotent");
    let run = store
        .create_run(&experiment, "train", &[Tag { key: "source".into(), value: "test".into() }])
        .await
        .unwrap();
    let run_id = run.info.run_id.clone();
    let params = [Param { key: "n_estimators".into(), value: "100".into() }];
    let metrics: Vec<Metric> = (0..5)
        .map(|s| Metric { key: "loss".into(), value: 1.0 / (s as f64 + 1.0), timestamp: 1000 + s, step: s })
        .collect();
    store.log_batch(&run_id, &metrics, &params, &[]).await.unwrap();

    let model_dir = tempfile::tempdir().unwrap();
    std::fs::write(model_dir.path().join("metadata.json"), "{\"format_version\": 1}").unwrap();
    std::fs::write(model_dir.path().join("model.bin"), vec![7u8; 4096]).unwrap();
    std::fs::create_dir(model_dir.path().join("extra")).unwrap();
    std::fs::write(model_dir.path().join("extra/notes.txt"), "hi").unwrap();
    let uploaded = store.upload_dir(&run.info.artifact_uri, "model", model_dir.path()).await.unwrap();
    assert_eq!(uploaded, 3);
    store.finish_run(&run_id, "FINISHED").await.unwrap();

    let got = store.get_run(&run_id).await.unwrap();
    assert_eq!(got.info.status, "FINISHED");
    assert_eq!(got.data.params, params);
    let history = store.get_metric_history(&run_id, "loss").await.unwrap();
    assert_eq!(history.iter().map(|m| m.step).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    let found = store
        .search_runs(
            std::slice::from_ref(&experiment),
            "metrics.loss < 0.3",
            &["metrics.loss ASC".into()],
            10,
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    let name = format!("rest-model-{suffix}");
    store.ensure_registered_model(&name).await.unwrap();
    store.ensure_registered_model(&name).await.unwrap();
    let source = format!("runs:/{run_id}/model");
    let v1 = store.create_model_version(&name, &source, Some(&run_id), &[]).await.unwrap();
    let v2 = store.create_model_version(&name, &source, Some(&run_id), &[]).await.unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
    store.set_alias(&name, "champion", "2", "").await.unwrap();
    store.transition_stage(&name, "2", "Production", true, "").await.unwrap();

    let (version, location) = store.resolve(&uri(&format!("models:/{name}@champion"))).await.unwrap();
    assert_eq!(version.unwrap().version, "2");
    let (by_stage, _) = store.resolve(&uri(&format!("models:/{name}/Production"))).await.unwrap();
    assert_eq!(by_stage.unwrap().version, "2");
    let (by_number, _) = store.resolve(&uri(&format!("models:/{name}/1"))).await.unwrap();
    assert_eq!(by_number.unwrap().version, "1");
    let (none, run_location) = store.resolve(&uri(&format!("runs:/{run_id}/model"))).await.unwrap();
    assert!(none.is_none() && run_location.ends_with("/model"));

    let dest = tempfile::tempdir().unwrap();
    let files = store.download_dir(&location, dest.path()).await.unwrap();
    assert_eq!(files, 3, "downloaded from {location}");
    assert_eq!(std::fs::read(dest.path().join("model.bin")).unwrap(), vec![7u8; 4096]);
    assert_eq!(std::fs::read_to_string(dest.path().join("extra/notes.txt")).unwrap(), "hi");

    let missing = store.resolve(&uri(&format!("models:/{name}@nobody"))).await.unwrap_err();
    assert_ne!(missing.code, ErrorCode::InternalError, "{missing}");
    assert_eq!(store.get_run("0000").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

fn uuid_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn mlflow_client_against_retrain_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = start_retrain_server(dir.path()).await;
    log_register_resolve_download(&MlflowClient::new(&url).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mlflow_client_against_mlflow_server() {
    match std::env::var("MLFLOW_SERVER_URL") {
        Ok(url) => log_register_resolve_download(&MlflowClient::new(&url).unwrap()).await,
        Err(_) => eprintln!("skipped: MLFLOW_SERVER_URL is not set (the MLflow tier of .ci/run sets it)"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_or_wrong_urls_are_clear_errors() {
    assert!(MlflowClient::new("ftp://x").is_err());
    let store = MlflowClient::new("http://127.0.0.1:9").unwrap();
    let err = store.get_run("x").await.unwrap_err();
    assert!(err.message.contains("cannot reach http://127.0.0.1:9/api/2.0/mlflow/runs/get"), "{err}");
}
