//! Model serving with MLflow's scoring protocol: `POST /invocations`
//! (`dataframe_split`, `dataframe_records`, `instances`, `inputs`, CSV),
//! `{"predictions": [...]}` answers, `/ping`, `/health`, `/version` and
//! Prometheus `/metrics`.
//!
//! A served model is a [`ModelHandle`]: the model in use behind an `Arc`
//! that a request clones when it starts, so swapping in a new version never
//! disturbs requests in flight. For a registry URI (`models:/NAME@ALIAS`,
//! `…/Production`) a watcher polls the registry and, when the alias or
//! stage has moved, loads the new version in the background and swaps it
//! in; a version that fails to load is reported and the old one keeps
//! serving.
//!
//! Where MLflow's server is careless this one is not: a column the model
//! does not know is a 400 naming it (MLflow drops it silently), and a
//! request without a content type is a 415 (MLflow answers 500).
//!
//! - `model`: sources, loading, and the swappable handle;
//! - `catalog`: the models `retrain up` serves by name ([`ServingOptions`]);
//! - `scoring`: the request formats, predictions and scoring errors;
//! - `metrics`: Prometheus metrics ([`ServingMetrics`]);
//! - `routes`: the HTTP routes and handlers.

mod catalog;
mod metrics;
mod model;
mod routes;
mod scoring;

pub(crate) use catalog::ModelCatalog;
pub use catalog::ServingOptions;
pub use metrics::ServingMetrics;
pub use model::{LoadError, ModelHandle, ModelSource, RefreshError, ServedModel, SourceError};
pub(crate) use routes::{catalog_routes, single_model_routes};

/// Largest request body accepted, in bytes (64 MiB).
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Response header naming the model that answered.
pub const MODEL_HEADER: &str = "x-retrain-model";
/// Response header naming the version of the model that answered.
pub const VERSION_HEADER: &str = "x-retrain-model-version";
