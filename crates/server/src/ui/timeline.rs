//! A model's last 30 days as one chart: every registry event (a
//! promotion, an alias moved, a stage entered) as a marker, over the
//! metric of the version that was champion at each moment and of each
//! version registered. It answers "what changed in production, when, and
//! did it get better" at a glance.

use std::collections::HashMap;

use retrain_registry::entities::{ModelVersion, RegistryEvent};
use retrain_registry::{ErrorCode, SqlStore, now_ms};

use super::chart::Chart;

/// How far back the timeline looks.
const WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Versions registered in the window drawn at most, the newest; each
/// costs a read of its run.
const VERSIONS_DRAWN: usize = 60;

/// The alias the promotion gate moves.
pub(super) const CHAMPION: &str = "champion";

/// The timeline of model `name` from its `versions` and its audit trail
/// `events` (oldest first), or `None` when nothing happened in the window
/// or no version involved has a metric to draw.
pub(super) async fn registry_timeline(
    store: &SqlStore,
    versions: &[ModelVersion],
    events: &[RegistryEvent],
) -> retrain_registry::Result<Option<String>> {
    let now = now_ms();
    let since = now - WINDOW_MS;
    let recent_events: Vec<&RegistryEvent> = events.iter().filter(|e| e.at >= since).collect();
    let mut recent_versions: Vec<&ModelVersion> =
        versions.iter().filter(|v| v.creation_timestamp >= since).collect();
    if recent_events.is_empty() && recent_versions.is_empty() {
        return Ok(None);
    }
    recent_versions.sort_by_key(|v| std::cmp::Reverse(v.creation_timestamp));
    recent_versions.truncate(VERSIONS_DRAWN);

    let mut metrics = VersionMetrics { store, versions, read: HashMap::new() };
    let champion_moves = champion_moves(events, since);
    let mut wanted: Vec<&str> = champion_moves.iter().map(|(_, v)| v.as_str()).collect();
    wanted.extend(recent_versions.iter().map(|v| v.version.as_str()));
    let Some(key) = metrics.headline_key(&wanted).await? else { return Ok(None) };

    let mut champion_line = Vec::new();
    for (index, (at, version)) in champion_moves.iter().enumerate() {
        let Some(value) = metrics.value(version, &key).await? else { continue };
        let until = champion_moves.get(index + 1).map_or(now, |(next, _)| *next);
        champion_line.extend([(*at as f64, value), (until as f64, value)]);
    }
    let mut registered = Vec::new();
    for version in &recent_versions {
        if let Some(value) = metrics.value(&version.version, &key).await? {
            registered.push((version.creation_timestamp as f64, value));
        }
    }
    let mut chart = Chart::new(format!("Last 30 days: registry events over {key}"))
        .time_x()
        .x_label("UTC")
        .y_label(key.clone())
        .series(format!("{key} of the champion"), champion_line)
        .series(format!("{key} of each version registered"), registered);
    for event in recent_events {
        chart = chart.marker(event.at as f64, describe(event));
    }
    Ok(Some(chart.svg()))
}

/// The champion at the window's start (from `since`) and each move of it
/// inside the window: `(moment, version)`, oldest first.
fn champion_moves(events: &[RegistryEvent], since: i64) -> Vec<(i64, String)> {
    let mut moves: Vec<(i64, String)> = Vec::new();
    for event in events.iter().filter(|e| e.kind == "alias" && e.subject == CHAMPION) {
        let Some(version) = &event.to_version else {
            if event.at >= since {
                moves.push((event.at, String::new()));
            }
            continue;
        };
        if event.at < since {
            moves = vec![(since, version.clone())];
        } else {
            moves.push((event.at, version.clone()));
        }
    }
    moves.retain(|(_, version)| !version.is_empty());
    moves
}

/// An event in words: `2026-12-01 10:02 · version 5 became champion
/// (was 4), by ed: "beats 4 on accuracy"`.
pub(super) fn describe(event: &RegistryEvent) -> String {
    let when = chrono::DateTime::from_timestamp_millis(event.at)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let what = match (&event.to_version, event.kind.as_str()) {
        (Some(to), "alias") => format!("version {to} became @{}", event.subject),
        (Some(to), _) => format!("version {to} entered {}", event.subject),
        (None, "alias") => format!("@{} removed", event.subject),
        (None, _) => format!("{} left", event.subject),
    };
    let was = event.from_version.as_ref().map(|v| format!(" (was {v})")).unwrap_or_default();
    let why =
        if event.reason.is_empty() { String::new() } else { format!(": \u{201c}{}\u{201d}", event.reason) };
    format!("{when} · {what}{was}, by {}{why}", event.actor)
}

/// The metrics of versions' runs, each run read once.
struct VersionMetrics<'a> {
    store: &'a SqlStore,
    versions: &'a [ModelVersion],
    read: HashMap<String, Vec<(String, f64)>>,
}

impl VersionMetrics<'_> {
    async fn of(&mut self, version: &str) -> retrain_registry::Result<&[(String, f64)]> {
        if !self.read.contains_key(version) {
            let run_id = self.versions.iter().find(|v| v.version == version).and_then(|v| v.run_id.clone());
            let metrics = match run_id {
                Some(id) => match self.store.get_run(&id).await {
                    Ok(run) => run.data.metrics.into_iter().map(|m| (m.key, m.value)).collect(),
                    Err(e) if e.code == ErrorCode::ResourceDoesNotExist => Vec::new(),
                    Err(e) => return Err(e),
                },
                None => Vec::new(),
            };
            self.read.insert(version.to_owned(), metrics);
        }
        Ok(&self.read[version])
    }

    async fn value(&mut self, version: &str, key: &str) -> retrain_registry::Result<Option<f64>> {
        Ok(self.of(version).await?.iter().find(|(k, _)| k == key).map(|(_, v)| *v))
    }

    /// The metric the timeline draws: the first of `versions` with
    /// metrics decides, preferring accuracy as the promotion gates do.
    async fn headline_key(&mut self, versions: &[&str]) -> retrain_registry::Result<Option<String>> {
        for version in versions {
            if let Some((key, _)) = headline_metric(self.of(version).await?) {
                return Ok(Some(key.clone()));
            }
        }
        Ok(None)
    }
}

/// The metric that stands for a version's quality, from its run's
/// `(name, value)` metrics: accuracy as the promotion gates prefer it,
/// else another accuracy, else the first.
pub(super) fn headline_metric(metrics: &[(String, f64)]) -> Option<&(String, f64)> {
    ["accuracy", "validation_accuracy", "val_accuracy", "f1", "r2"]
        .iter()
        .find_map(|want| metrics.iter().find(|(k, _)| k == want))
        .or_else(|| metrics.iter().find(|(k, _)| k.contains("accuracy")))
        .or_else(|| metrics.first())
}
