//! The machine-learning core of retrain: pure computation on data it is
//! handed, no services.
//!
//! - [`data`]: CSV datasets with validation, label encoding, column
//!   alignment; [`datasets`]: built-in sets and the drifting generator;
//!   [`split`]: stratified splits.
//! - [`config`]: classifier configs (JSON/YAML) validated before training;
//!   [`models`]: the classifiers; [`progress`]: training progress and history.
//! - [`metrics`]: scikit-learn-compatible metrics; [`input`]: scoring
//!   requests (MLflow's JSON formats, CSV) as datasets.
//! - [`model`]: training, the model directory format, prediction.
//! - [`atomic`]: writes that never leave half a file.

#![warn(missing_docs)]

pub mod atomic;
pub mod config;
pub mod data;
pub mod datasets;
mod error;
mod impute;
pub mod input;
pub mod metrics;
pub mod model;
pub mod models;
mod optimize;
pub mod progress;
pub mod split;

pub use config::{ClassifierConfig, Impute};
pub use data::{Dataset, Matrix};
pub use error::{Error, Result, chain as error_chain};
pub use metrics::Metrics;
pub use model::{Metadata, Model, Predictions, train};
pub use progress::{History, NoProgress, Progress};
