//! One module per group of subcommands.

pub(crate) mod data;
pub(crate) mod datasets;
pub(crate) mod flow;
pub(crate) mod model;
pub(crate) mod registry;
pub(crate) mod server;
pub(crate) mod users;

pub(crate) use crate::exit::{Exit, UsageError};

/// Loads labelled data named on the command line (a path or a built-in
/// dataset); a name that is neither is a usage error.
pub(crate) fn load_labelled(named: &str, target: Option<&str>) -> anyhow::Result<retrain_ml::Dataset> {
    retrain_ml::datasets::load_named(named, target).map_err(|e| match e {
        retrain_ml::Error::Invalid(message) => UsageError(message).into(),
        other => other.into(),
    })
}

/// An epoch-milliseconds time as the commands print it (UTC, to the second).
pub(crate) fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
