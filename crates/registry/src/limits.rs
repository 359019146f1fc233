//! MLflow's rules for keys and lengths, in one place: which characters a
//! metric, param or tag key may hold, how long names and values may be
//! (counted in characters, as Python's `len`), which over-long values are
//! truncated and which refused, and how much one `log-batch` may carry.
//!
//! A client written against MLflow never sends what MLflow refuses, so
//! refusing the same keeps the two servers interchangeable.

use crate::entities::{Param, Tag};
use crate::error::{Result, StoreError};

/// MLflow's limits on one `log-batch` request.
/// The most metrics in one batch.
pub(crate) const MAX_BATCH_METRICS: usize = 1000;
/// The most params in one batch.
pub(crate) const MAX_BATCH_PARAMS: usize = 100;
/// The most tags in one batch.
pub(crate) const MAX_BATCH_TAGS: usize = 100;

/// MLflow's length limits, counted in characters (Python's `len`) as it
/// does. An over-long param or run tag value keeps its start: MLflow's
/// default (`MLFLOW_TRUNCATE_LONG_VALUES`) truncates those with a warning,
/// and its client sends them unchecked, so refusing them would fail a
/// `log_param` that works against MLflow. Past the other limits MLflow
/// refuses, and so does this store.
const MAX_KEY_CHARS: usize = 250;
const MAX_PARAM_VALUE_CHARS: usize = 6000;
const MAX_RUN_TAG_VALUE_CHARS: usize = 8000;
pub(crate) const MAX_EXPERIMENT_NAME_CHARS: usize = 500;
pub(crate) const MAX_EXPERIMENT_TAG_VALUE_CHARS: usize = 20_000;
pub(crate) const MAX_MODEL_TAG_VALUE_CHARS: usize = 100_000;

/// Refuses a `field` longer than `limit` characters, in MLflow's words.
pub(crate) fn check_length(field: &str, value: &str, limit: usize) -> Result<()> {
    if value.chars().nth(limit).is_some() {
        return Err(StoreError::invalid(format!("{field} exceeds the maximum length of {limit} characters")));
    }
    Ok(())
}

/// `value`'s first `limit` characters, with a warning when that cuts it.
fn truncated<'a>(kind: &str, key: &str, value: &'a str, limit: usize) -> &'a str {
    let Some((end, _)) = value.char_indices().nth(limit) else { return value };
    tracing::warn!(
        "{kind} '{key}': a value of {} characters was truncated to {limit}, as MLflow does",
        value.chars().count()
    );
    &value[..end]
}

/// A param as the store keeps it (see [`MAX_PARAM_VALUE_CHARS`]).
pub(crate) fn stored_param(p: &Param) -> Param {
    Param { key: p.key.clone(), value: truncated("param", &p.key, &p.value, MAX_PARAM_VALUE_CHARS).into() }
}

/// A run tag as the store keeps it (see [`MAX_RUN_TAG_VALUE_CHARS`]).
pub(crate) fn stored_run_tag(t: &Tag) -> Tag {
    Tag { key: t.key.clone(), value: truncated("tag", &t.key, &t.value, MAX_RUN_TAG_VALUE_CHARS).into() }
}

/// A `kind` of tag whose value MLflow refuses past `max_value_chars`.
pub(crate) fn check_tag(kind: &str, tag: &Tag, max_value_chars: usize) -> Result<()> {
    check_key(kind, &tag.key)?;
    check_length(&format!("The value of {kind} '{}'", tag.key), &tag.value, max_value_chars)
}

/// A metric, param or tag key as MLflow accepts it: 1 to 250 letters,
/// digits and `_ - . : /` or spaces, and nothing that names another key
/// when read as a path (`a/../b`, `/a`, `a//b`, `a/`): MLflow refuses
/// those, and a client written against it never sends them.
pub(crate) fn check_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.chars().nth(MAX_KEY_CHARS).is_some() {
        return Err(StoreError::invalid(format!(
            "{kind} key must be 1 to {MAX_KEY_CHARS} characters, got '{key}'"
        )));
    }
    if let Some(bad) = key.chars().find(|&c| !(c.is_alphanumeric() || "_-.:/ ".contains(c))) {
        return Err(StoreError::invalid(format!(
            "Invalid {kind} key {key:?}: {bad:?} is not allowed; keys may only contain alphanumerics, \
             underscores (_), dashes (-), periods (.), colons (:), spaces ( ) and slashes (/)"
        )));
    }
    let resolves_elsewhere = key.starts_with('/')
        || key.starts_with("..")
        || key.split('/').any(|part| matches!(part, "" | "." | ".."));
    if resolves_elsewhere {
        return Err(StoreError::invalid(format!(
            "Invalid {kind} key {key:?}: read as a path, it would name another key \
             (no leading '/', empty, '.' or '..' parts)"
        )));
    }
    Ok(())
}

/// Alias names that mean a version number or "latest" cannot be aliases.
pub(crate) fn check_alias(alias: &str) -> Result<()> {
    let reserved = alias.eq_ignore_ascii_case("latest")
        || alias.trim_start_matches(['v', 'V']).parse::<i64>().is_ok()
        || alias.is_empty()
        || alias.chars().count() > 255;
    if reserved {
        return Err(StoreError::invalid(format!(
            "Invalid alias '{alias}': aliases are 1 to 255 characters and cannot be 'latest' or a version like 'v3'"
        )));
    }
    Ok(())
}

/// A version number as MLflow accepts it: a positive integer.
pub(crate) fn parse_version(version: &str) -> Result<i64> {
    version.trim().parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
        StoreError::invalid(format!("Model version must be a positive integer, got '{version}'"))
    })
}
