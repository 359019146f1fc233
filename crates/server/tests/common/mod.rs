//! What several test files need: a retrain tracking server on a free port.

use std::sync::Arc;

use retrain_registry::{ArtifactStore, SqlStore};
use retrain_server::AppState;

/// Starts the tracking server on SQLite and local artifacts under `dir`;
/// returns its URL.
pub async fn start_retrain_server(dir: &std::path::Path) -> String {
    let uri = format!("sqlite:///{}", dir.join("t.db").display());
    let store = SqlStore::connect(&uri, retrain_server::ARTIFACT_ROOT).await.unwrap();
    let artifacts = ArtifactStore::open(dir.join("artifacts").to_str().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState { store: Arc::new(store), artifacts: Arc::new(artifacts) };
    tokio::spawn(retrain_server::serve(listener, state, std::future::pending()));
    url
}
