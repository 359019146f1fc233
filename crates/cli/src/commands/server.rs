//! `retrain server`: the tracking server alone, with flags named like
//! `mlflow server`'s; `retrain serve`: one model over HTTP, like `mlflow
//! models serve`.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

use retrain_flow::project::paths;
use retrain_registry::{ArtifactStore, SqlStore};
use retrain_server::serving::{ModelHandle, ModelSource, ServingMetrics};
use retrain_server::{App, Server};
use tokio::sync::watch;

#[derive(Args)]
pub(crate) struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (MLflow's default).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Ask every caller to sign in: a user's password (HTTP Basic) or an
    /// API token (Bearer), as made with `retrain users`.
    #[arg(long)]
    auth: bool,
    /// Listen on an address other than this machine's loopback without
    /// --auth, so that anyone who reaches it may change everything.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Metadata store: sqlite:///PATH (relative) or sqlite:////ABS/PATH, or postgresql://USER@HOST/DB.
    #[arg(long, env = "RETRAIN_BACKEND_STORE_URI", default_value = paths::DATABASE_URI)]
    backend_store_uri: String,
    /// Directory where proxied artifacts are stored.
    #[arg(long, env = "RETRAIN_ARTIFACTS_DESTINATION", default_value = paths::ARTIFACTS)]
    artifacts_destination: String,
}

/// Refuses to listen beyond this machine without signing callers in,
/// unless the user asked for it with `--allow-unauthenticated` (then it
/// warns).
fn check_exposure(host: &str, auth: bool, allow_unauthenticated: bool) -> Result<()> {
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || auth {
        return Ok(());
    }
    if allow_unauthenticated {
        tracing::warn!(
            "listening on {host} without authentication: anyone who reaches it may change everything"
        );
        return Ok(());
    }
    Err(super::UsageError(format!(
        "--host {host} would let anyone who can reach it read and change experiments, models and \
         pipelines without signing in. Pass --auth to ask for a user's password or token (see \
         `retrain users`), listen on 127.0.0.1 (the default), or pass --allow-unauthenticated to \
         listen on {host} anyway"
    ))
    .into())
}

pub(crate) fn run(args: ServerArgs) -> Result<()> {
    check_exposure(&args.host, args.auth, args.allow_unauthenticated)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServerArgs) -> Result<()> {
    let store = Arc::new(SqlStore::connect(&args.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?);
    let artifacts = Arc::new(ArtifactStore::open(&args.artifacts_destination)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut app = App::builder(store.clone(), artifacts);
    if args.auth {
        warn_without_users(&store).await?;
        app = app.sign_in();
    }
    let server = Server::bind(&args.host, args.port).await?.spawn(app.build(), stopped(stop_rx));
    tracing::info!(backend = %args.backend_store_uri, "tracking server listening on {}", server.url());
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    server.stopped().await;
    tracing::info!("tracking server stopped");
    Ok(())
}

/// A server that signs callers in but has no user yet can only be used
/// once one is added; says so.
async fn warn_without_users(store: &SqlStore) -> Result<()> {
    if !store.has_users().await? {
        tracing::warn!("--auth: there is no user yet; add one with `retrain users add NAME --role admin`");
    }
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
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

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// A model directory written by `retrain train`, or a registry URI:
    /// models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE.
    #[arg(long)]
    model: String,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 5001)]
    port: u16,
    /// Ask every caller to sign in as a user of --backend-store-uri (a
    /// viewer may score).
    #[arg(long)]
    auth: bool,
    /// The metadata store whose users and tokens --auth checks.
    #[arg(long, env = "RETRAIN_BACKEND_STORE_URI", default_value = paths::DATABASE_URI)]
    backend_store_uri: String,
    /// Listen on an address other than this machine's loopback without
    /// --auth, so that anyone who reaches it may score.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Tracking server that resolves registry URIs.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    tracking_uri: Option<String>,
    /// How often a served alias or stage is checked for a new version.
    #[arg(long, default_value = "2s", value_parser = retrain_flow::pipeline::parse_duration)]
    poll_interval: Duration,
    /// Where downloaded model versions are kept.
    #[arg(long, default_value = paths::MODEL_CACHE)]
    cache_dir: PathBuf,
}

/// `retrain serve`: one model over HTTP with MLflow's scoring protocol.
pub(crate) fn serve_model(args: ServeArgs) -> Result<()> {
    check_exposure(&args.host, args.auth, args.allow_unauthenticated)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let users = if args.auth {
            let store =
                Arc::new(SqlStore::connect(&args.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?);
            warn_without_users(&store).await?;
            Some(store)
        } else {
            None
        };
        let source = ModelSource::parse(&args.model, args.tracking_uri.as_deref(), &args.cache_dir)
            .map_err(|e| super::UsageError(e.to_string()))?;
        let handle = ModelHandle::open(source, Arc::new(ServingMetrics::default()))
            .await
            .map_err(|e| super::UsageError(format!("cannot load {}: {e}", args.model)))?;
        let _watcher = handle.watch(args.poll_interval);
        let server = Server::bind(&args.host, args.port).await?;
        let served = handle.current();
        tracing::info!(
            model = %served.name,
            version = %served.version,
            "serving on http://{}:{}/invocations", args.host, args.port
        );
        server.serve(App::single_model(handle, users), shutdown_signal()).await?;
        Ok(())
    })
}
