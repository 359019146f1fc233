//! One module per group of subcommands.

pub mod data;
pub mod datasets;
pub mod flow;
pub mod model;
pub mod registry;
pub mod server;

/// A mistake in how a command was called that clap cannot see (e.g. two
/// options that contradict each other); exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Ends the command with a given exit code and message (e.g. a task
/// instance that was skipped exits 99, like Airflow's skip code).
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct Exit(pub u8, pub String);

/// Loads labelled data named on the command line (a path or a built-in
/// dataset); a name that is neither is a usage error.
pub fn load_labelled(spec: &str, target: Option<&str>) -> anyhow::Result<retrain_ml::Dataset> {
    retrain_ml::datasets::load_named(spec, target).map_err(|e| match e {
        retrain_ml::Error::Invalid(message) => UsageError(message).into(),
        other => other.into(),
    })
}
