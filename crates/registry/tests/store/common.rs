//! Helpers every test module shares (a store per backend and the test
//! macro come from the registry's `testing` module).

use retrain_registry::entities::{Metric, Tag};

pub(crate) fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

pub(crate) fn metric(k: &str, value: f64, step: i64) -> Metric {
    Metric { key: k.into(), value, timestamp: 1_000 + step, step }
}
