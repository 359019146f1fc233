//! `retrain server`: the tracking server alone, with flags named like
//! `mlflow server`'s.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use retrain_registry::{ArtifactStore, SqlStore};
use retrain_server::AppState;

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Metadata store: sqlite:///PATH (relative) or sqlite:////ABS/PATH, or postgresql://USER@HOST/DB.
    #[arg(long, env = "RETRAIN_BACKEND_STORE_URI", default_value = "sqlite:///.retrain/retrain.db")]
    backend_store_uri: String,
    /// Directory where proxied artifacts are stored.
    #[arg(long, env = "RETRAIN_ARTIFACTS_DESTINATION", default_value = ".retrain/artifacts")]
    artifacts_destination: String,
}

pub fn run(args: ServerArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServerArgs) -> Result<()> {
    let store = SqlStore::connect(&args.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?;
    let artifacts = ArtifactStore::open(&args.artifacts_destination)?;
    let address = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(
        backend = %args.backend_store_uri,
        artifacts = %artifacts.location,
        "tracking server listening on http://{}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or(address)
    );
    let state = AppState { store: Arc::new(store), artifacts: Arc::new(artifacts) };
    retrain_server::serve(listener, state, shutdown_signal()).await.context("server failed")?;
    tracing::info!("tracking server stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
