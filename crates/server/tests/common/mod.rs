//! What several test files need: a retrain tracking server on a free port.

use std::sync::Arc;

use retrain_registry::{ArtifactStore, SqlStore};
use retrain_server::{App, Server};

/// Starts the tracking server on SQLite and local artifacts under `dir`;
/// returns its URL.
pub async fn start_retrain_server(dir: &std::path::Path) -> String {
    let uri = format!("sqlite:///{}", dir.join("t.db").display());
    let store = SqlStore::connect(&uri, retrain_server::ARTIFACT_ROOT).await.unwrap();
    let artifacts = ArtifactStore::open(dir.join("artifacts").to_str().unwrap()).unwrap();
    let app = App::builder(Arc::new(store), Arc::new(artifacts)).build();
    let server = Server::bind("127.0.0.1", 0).await.unwrap().spawn(app, std::future::pending());
    server.url().to_owned()
}
