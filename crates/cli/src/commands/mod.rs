//! One module per group of subcommands.

pub mod data;
pub mod datasets;
pub mod flow;
pub mod model;
pub mod registry;
pub mod server;

pub use crate::exit::{Exit, UsageError};

/// Loads labelled data named on the command line (a path or a built-in
/// dataset); a name that is neither is a usage error.
pub fn load_labelled(spec: &str, target: Option<&str>) -> anyhow::Result<retrain_ml::Dataset> {
    retrain_ml::datasets::load_named(spec, target).map_err(|e| match e {
        retrain_ml::Error::Invalid(message) => UsageError(message).into(),
        other => other.into(),
    })
}
