//! The model a server scores with: where it comes from ([`ModelSource`]),
//! what is loaded ([`ServedModel`]), and the [`ModelHandle`] that swaps a
//! new version in while requests are in flight.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use retrain_ml::Model;
use retrain_registry::{MlflowClient, ModelRef, ModelUri, StoreError};

use super::metrics::ServingMetrics;

/// The model in use and which one it is.
#[derive(Debug)]
pub struct ServedModel {
    /// The loaded model.
    pub model: Model,
    /// The registered model's name, the registry URI of a run's model, or
    /// the directory served.
    pub name: String,
    /// The registry version; `run` for a run's model, `local` for a
    /// directory.
    pub version: String,
}

/// Where a served model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A model directory written by `retrain train`.
    Dir(PathBuf),
    /// A registry URI (`models:/NAME@ALIAS`, `models:/NAME/STAGE`,
    /// `models:/NAME/VERSION`, `runs:/ID/PATH`), resolved and downloaded
    /// through `tracking` into `cache`.
    Registry {
        /// The URI.
        uri: ModelUri,
        /// The tracking server that resolves it.
        tracking: MlflowClient,
        /// Where downloaded model versions are kept.
        cache: PathBuf,
    },
}

/// Why a model source could not be named.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The text names a registry URI that is not a valid one.
    #[error(transparent)]
    InvalidUri(StoreError),
    /// A registry URI was given without a tracking server to resolve it.
    #[error("{uri} is a registry URI: give --tracking-uri or set MLFLOW_TRACKING_URI")]
    NoTrackingUri {
        /// The registry URI.
        uri: ModelUri,
    },
    /// The tracking server's URL is not one a client can use.
    #[error(transparent)]
    TrackingUri(StoreError),
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The registry could not resolve or download what the source names.
    #[error(transparent)]
    Registry(#[from] StoreError),
    /// The model's files are missing, damaged, or not a model.
    #[error(transparent)]
    Model(#[from] retrain_ml::Error),
    /// The thread loading the files stopped before it finished.
    #[error("loading was interrupted")]
    Interrupted(#[source] tokio::task::JoinError),
}

/// Why [`ModelHandle::refresh`] could not swap in the version the source
/// names; the version in service keeps serving either way.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The registry did not say which version the source names now.
    #[error(transparent)]
    Resolve(#[from] StoreError),
    /// The named version did not load.
    #[error("version {wanted} of {model} failed to load; version {serving} keeps serving")]
    Load {
        /// The version the source names.
        wanted: String,
        /// The served model's name.
        model: String,
        /// The version still in service.
        serving: String,
        /// Why it did not load.
        #[source]
        source: LoadError,
    },
}

impl ModelSource {
    /// A model directory, or a registry URI resolved through `tracking_uri`
    /// (`None`: no tracking server, so only a directory will do); `cache`
    /// is where a registry's model versions are downloaded.
    pub fn parse(text: &str, tracking_uri: Option<&str>, cache: &Path) -> Result<ModelSource, SourceError> {
        match ModelRef::parse(text).map_err(SourceError::InvalidUri)? {
            ModelRef::Dir(dir) => Ok(ModelSource::Dir(dir)),
            ModelRef::Registry(uri) => {
                let Some(tracking_uri) = tracking_uri else { return Err(SourceError::NoTrackingUri { uri }) };
                let tracking = MlflowClient::new(tracking_uri).map_err(SourceError::TrackingUri)?;
                Ok(ModelSource::Registry { uri, tracking, cache: cache.to_path_buf() })
            }
        }
    }

    /// The version the source names now (`local` for a directory).
    async fn current_version(&self) -> Result<String, StoreError> {
        match self {
            ModelSource::Dir(_) => Ok("local".into()),
            ModelSource::Registry { uri, tracking, .. } => {
                let (version, _) = tracking.resolve(uri).await?;
                Ok(version.map_or_else(|| "run".into(), |v| v.version))
            }
        }
    }

    /// Loads what the source names now.
    pub async fn load(&self) -> Result<ServedModel, LoadError> {
        let (name, version, dir) = match self {
            ModelSource::Dir(dir) => (dir.display().to_string(), "local".to_owned(), dir.clone()),
            ModelSource::Registry { uri, tracking, cache } => {
                let (version, dir) = tracking.fetch_model(uri, cache).await?;
                match version {
                    Some(v) => (v.name, v.version, dir),
                    None => (uri.to_string(), "run".into(), dir),
                }
            }
        };
        let model = tokio::task::spawn_blocking(move || Model::load(&dir))
            .await
            .map_err(LoadError::Interrupted)??;
        Ok(ServedModel { model, name, version })
    }
}

/// One served model, swappable while it serves.
pub struct ModelHandle {
    source: ModelSource,
    current: RwLock<Arc<ServedModel>>,
    pub(crate) metrics: Arc<ServingMetrics>,
    /// The last reload error with its causes, so that the watcher logs a
    /// failure once, not at every poll.
    last_error: Mutex<Option<String>>,
}

impl fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("ModelHandle")
            .field("source", &self.source)
            .field("name", &current.name)
            .field("version", &current.version)
            .finish_non_exhaustive()
    }
}

impl ModelHandle {
    /// Loads the model once, recording it in `metrics`; fails when it
    /// cannot be loaded at all.
    pub async fn open(
        source: ModelSource,
        metrics: Arc<ServingMetrics>,
    ) -> Result<Arc<ModelHandle>, LoadError> {
        let served = source.load().await?;
        metrics.loaded(&served);
        tracing::info!(model = %served.name, version = %served.version, "serving");
        Ok(Arc::new(ModelHandle {
            source,
            current: RwLock::new(Arc::new(served)),
            metrics,
            last_error: Mutex::new(None),
        }))
    }

    /// The model to answer the next request with.
    pub fn current(&self) -> Arc<ServedModel> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in the version the source names now, if it changed. Returns
    /// the new version, or `None` when nothing changed.
    pub async fn refresh(&self) -> Result<Option<String>, RefreshError> {
        let wanted = self.source.current_version().await?;
        let current = self.current();
        if wanted == current.version {
            return Ok(None);
        }
        match self.source.load().await {
            Ok(served) => {
                let version = served.version.clone();
                tracing::info!(model = %served.name, from = %current.version, to = %version, "new version in service");
                self.metrics.loaded(&served);
                let served = Arc::new(served);
                match self.current.write() {
                    Ok(mut guard) => *guard = served,
                    Err(poisoned) => *poisoned.into_inner() = served,
                }
                Ok(Some(version))
            }
            Err(source) => {
                self.metrics.reload_failed(&current.name);
                Err(RefreshError::Load {
                    wanted,
                    model: current.name.clone(),
                    serving: current.version.clone(),
                    source,
                })
            }
        }
    }

    /// Polls the registry every `every` and swaps versions as they move,
    /// until the handle is dropped by everyone else. A directory is never
    /// polled: the task ends at once.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let handle = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(handle) = handle.upgrade() else { return };
                if let ModelSource::Dir(_) = handle.source {
                    return;
                }
                let result = handle.refresh().await;
                let mut last = handle.last_error.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(_) => *last = None,
                    Err(e) => {
                        let text = retrain_ml::error_chain(&e);
                        if last.as_deref() != Some(text.as_str()) {
                            tracing::error!("{text}");
                        }
                        *last = Some(text);
                    }
                }
            }
        })
    }
}
