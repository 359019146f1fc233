//! One module per group of subcommands.

pub mod data;
pub mod datasets;
pub mod model;
pub mod registry;
pub mod server;

/// A mistake in how a command was called that clap cannot see (e.g. two
/// options that contradict each other); exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

use std::path::Path;

use retrain_ml::Dataset;

/// Loads labelled data named on the command line: a path (directory with
/// data.csv + target.csv, or a CSV whose label column is `target`, the
/// last column by default) or the name of a built-in dataset.
pub fn load_labelled(spec: &str, target: Option<&str>) -> anyhow::Result<Dataset> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok(retrain_ml::data::load_labelled(path, target)?);
    }
    if let Some(dataset) = retrain_ml::datasets::builtin(spec) {
        return Ok(dataset);
    }
    Err(UsageError(format!(
        "'{spec}' is neither a file, a directory nor a built-in dataset ({})",
        retrain_ml::datasets::BUILTIN.join(", ")
    ))
    .into())
}
