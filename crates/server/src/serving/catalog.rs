//! Registered models served by name (`retrain up`): one [`ModelHandle`]
//! per registry URI, opened on first use and then watched.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use retrain_registry::MlflowClient;
use serde::Deserialize;

use super::metrics::ServingMetrics;
use retrain_registry::ModelUri;

use super::model::{LoadError, ModelHandle, ModelSource};
use super::scoring::ScoringError;

/// How a tracking server serves registered models by name.
#[derive(Debug, Clone)]
pub struct ServingOptions {
    /// The registry that names the versions (for `retrain up`, itself).
    pub tracking: MlflowClient,
    /// Where downloaded model versions are kept.
    pub cache: PathBuf,
    /// How often a served alias or stage is checked for a new version.
    pub poll: Duration,
}

/// Models served by name inside `retrain up`: `POST
/// /models/{name}/invocations?alias=champion` (the default), `?version=3`
/// or `?stage=Production`, each loaded on first use and then watched.
pub(crate) struct ModelCatalog {
    tracking: MlflowClient,
    cache: PathBuf,
    poll: Duration,
    pub(crate) metrics: Arc<ServingMetrics>,
    handles: tokio::sync::Mutex<HashMap<String, Arc<ModelHandle>>>,
}

impl fmt::Debug for ModelCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelCatalog")
            .field("cache", &self.cache)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// The query of `POST /models/{name}/invocations`: which version, and
/// whether to return probabilities.
#[derive(Deserialize)]
pub(crate) struct Selector {
    alias: Option<String>,
    version: Option<String>,
    stage: Option<String>,
    pub(crate) proba: Option<String>,
}

impl Selector {
    /// The registry URI of model `name` this selector names; the
    /// `champion` alias when it names none.
    pub(crate) fn uri(&self, name: &str) -> Result<String, ScoringError> {
        match (&self.alias, &self.version, &self.stage) {
            (None, None, None) => Ok(format!("models:/{name}@champion")),
            (Some(alias), None, None) => Ok(format!("models:/{name}@{alias}")),
            (None, Some(version), None) => Ok(format!("models:/{name}/{version}")),
            (None, None, Some(stage)) => Ok(format!("models:/{name}/{stage}")),
            _ => Err(ScoringError::AmbiguousSelector),
        }
    }
}

impl ModelCatalog {
    pub(crate) fn new(options: ServingOptions) -> ModelCatalog {
        ModelCatalog {
            tracking: options.tracking,
            cache: options.cache,
            poll: options.poll,
            metrics: Arc::new(ServingMetrics::default()),
            handles: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// What is in service now: each registry URI asked for so far, with
    /// the version answering it.
    pub(crate) async fn served(&self) -> Vec<(String, String)> {
        let handles = self.handles.lock().await;
        let mut served: Vec<_> =
            handles.iter().map(|(uri, handle)| (uri.clone(), handle.current().version.clone())).collect();
        served.sort();
        served
    }

    /// The handle serving `uri`, opened and watched on first use.
    pub(crate) async fn handle(&self, uri: String) -> Result<Arc<ModelHandle>, LoadError> {
        let mut handles = self.handles.lock().await;
        if let Some(handle) = handles.get(&uri) {
            return Ok(handle.clone());
        }
        let source = ModelSource::Registry {
            uri: ModelUri::parse(&uri)?,
            tracking: self.tracking.clone(),
            cache: self.cache.clone(),
        };
        let handle = ModelHandle::open(source, self.metrics.clone()).await?;
        handle.watch(self.poll);
        handles.insert(uri, handle.clone());
        Ok(handle)
    }
}
