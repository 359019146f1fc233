//! Artifact storage on a local directory, and on an S3-compatible server
//! when `RETRAIN_TEST_S3_URI` names a bucket (the S3 tier of `.ci/run`
//! starts one and sets it, with `MLFLOW_S3_ENDPOINT_URL` and credentials).

use bytes::Bytes;
use retrain_registry::ErrorCode;
use retrain_registry::{ArtifactStore, FileInfo};

async fn round_trip(store: &ArtifactStore, root: &str) {
    let key = |p: &str| format!("{root}/{p}");
    store.put(&key("model/MLmodel"), Bytes::from_static(b"flavors: {}")).await.unwrap();
    store.put(&key("notes.txt"), Bytes::from_static(b"hello")).await.unwrap();
    store.put(&key("notes.txt"), Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(store.get(&key("notes.txt")).await.unwrap(), Bytes::from_static(b"hello"));
    let files = store.list(root, root).await.unwrap();
    assert_eq!(
        files,
        vec![
            FileInfo { path: "model".into(), is_dir: true, file_size: None },
            FileInfo { path: "notes.txt".into(), is_dir: false, file_size: Some(5) },
        ],
        "{}",
        store.location
    );
    let nested = store.list(&key("model"), root).await.unwrap();
    assert_eq!(nested[0].path, "model/MLmodel");
    assert!(store.list(&key("absent"), root).await.unwrap().is_empty());
    store.delete(&key("model")).await.unwrap();
    assert_eq!(store.list(root, root).await.unwrap().len(), 1, "{}", store.location);
    let missing = store.get(&key("model/MLmodel")).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceDoesNotExist);
    for bad in ["../etc/passwd", "1/../../x", "/etc/passwd", "a\\b"] {
        let err = store.put(bad, Bytes::new()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{bad}");
    }
}

#[tokio::test]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path().join("artifacts").to_str().unwrap()).unwrap();
    round_trip(&store, "1/run/artifacts").await;
}

#[tokio::test]
async fn s3_compatible_bucket() {
    let Ok(uri) = std::env::var("RETRAIN_TEST_S3_URI") else {
        eprintln!("skipped: RETRAIN_TEST_S3_URI is not set (the S3 tier of .ci/run sets it)");
        return;
    };
    let store = ArtifactStore::open(&uri).unwrap();
    let root = format!("1/{}/artifacts", uuid::Uuid::new_v4().simple());
    round_trip(&store, &root).await;
}

#[test]
fn bad_destinations_are_clear_errors() {
    let err = ArtifactStore::open("gs://bucket").err().unwrap();
    assert!(err.message.contains("use a local directory or s3://bucket/prefix"), "{err}");
    assert!(ArtifactStore::open("s3://").err().unwrap().message.contains("names no bucket"));
}
