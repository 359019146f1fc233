//! `retrain server`: the tracking server alone, with flags named like
//! `mlflow server`'s; `retrain serve`: one model over HTTP, like `mlflow
//! models serve`.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

use retrain_registry::{ArtifactStore, RestStore, SqlStore};
use retrain_server::AppState;
use retrain_server::airflow::PipelineApi;
use retrain_server::serving::{ModelCatalog, ModelHandle, ModelSource, ServingMetrics, single_model_router};
use tokio::sync::watch;

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
    let store = Arc::new(SqlStore::connect(&args.backend_store_uri, retrain_server::ARTIFACT_ROOT).await?);
    let artifacts = Arc::new(ArtifactStore::open(&args.artifacts_destination)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = TrackingServer::start(&args.host, args.port, store, artifacts, None, None, stop_rx).await?;
    tracing::info!(backend = %args.backend_store_uri, "tracking server listening on {}", server.url);
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    server.stopped().await;
    tracing::info!("tracking server stopped");
    Ok(())
}

/// How `retrain up` serves registered models.
pub struct ServingOptions {
    /// Where downloaded model versions are kept.
    pub cache: PathBuf,
    /// How often a served alias or stage is checked for a new version.
    pub poll: Duration,
}

/// The HTTP server running in the background of a command.
pub struct TrackingServer {
    /// `http://HOST:PORT`, with a wildcard host replaced by 127.0.0.1 so
    /// local clients can use it.
    pub url: String,
    handle: tokio::task::JoinHandle<()>,
}

impl TrackingServer {
    /// Binds `host:port` (0 for any free port) and serves until `stop`
    /// turns true. With `serving`, registered models are also served at
    /// `/models/{name}/invocations` (resolved through this same server);
    /// with `pipelines`, Airflow's REST API drives the scheduler.
    pub async fn start(
        host: &str,
        port: u16,
        store: Arc<SqlStore>,
        artifacts: Arc<ArtifactStore>,
        serving: Option<ServingOptions>,
        pipelines: Option<PipelineApi>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<TrackingServer> {
        let address = format!("{host}:{port}");
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let local = listener.local_addr().context("cannot read the listening address")?;
        let shown_host =
            if local.ip().is_unspecified() { "127.0.0.1".to_string() } else { local.ip().to_string() };
        let url = format!("http://{shown_host}:{}", local.port());
        let mut router = retrain_server::router(AppState { store, artifacts });
        if let Some(options) = serving {
            let catalog = ModelCatalog::new(RestStore::new(&url)?, options.cache, options.poll);
            router = router.merge(Arc::new(catalog).router());
        }
        if let Some(api) = pipelines {
            router = router.merge(Arc::new(api).router());
        }
        let handle = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(e) = retrain_server::serve_router(listener, router, shutdown).await {
                tracing::error!("server failed: {e}");
            }
        });
        Ok(TrackingServer { url, handle })
    }

    /// Waits until the server has stopped (after its stop signal).
    pub async fn stopped(self) {
        let _ = self.handle.await;
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
pub struct ServeArgs {
    /// A model directory written by `retrain train`, or a registry URI:
    /// models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE.
    #[arg(long)]
    model: String,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 5001)]
    port: u16,
    /// Tracking server that resolves registry URIs.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    tracking_uri: Option<String>,
    /// How often a served alias or stage is checked for a new version.
    #[arg(long, default_value = "2s", value_parser = retrain_flow::spec::parse_duration)]
    poll_interval: Duration,
    /// Where downloaded model versions are kept.
    #[arg(long, default_value = ".retrain/cache")]
    cache_dir: PathBuf,
}

/// `retrain serve`: one model over HTTP with MLflow's scoring protocol.
pub fn serve_model(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let source = ModelSource::parse(&args.model, args.tracking_uri.as_deref(), &args.cache_dir)
            .map_err(super::UsageError)?;
        let handle = ModelHandle::open(source, Arc::new(ServingMetrics::default()))
            .await
            .map_err(|e| super::UsageError(format!("cannot load {}: {e}", args.model)))?;
        let _watcher = handle.watch(args.poll_interval);
        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let served = handle.current();
        tracing::info!(model = %served.name, version = %served.version, "serving on http://{address}/invocations");
        retrain_server::serve_router(listener, single_model_router(handle), shutdown_signal())
            .await
            .context("server failed")?;
        Ok(())
    })
}
