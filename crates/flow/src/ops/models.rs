//! The steps that talk to tracking and the registry through the MLflow
//! REST API (`MLFLOW_TRACKING_URI`): register a model directory, promote a
//! version when it beats the champion, pick the best of all versions, and
//! open a model named by a registry URI for prediction.
//!
//! Registering is idempotent per task instance: the tracking run is tagged
//! with the instance, so a retry (or a restart after a crash) finds the run
//! and the version it already made instead of registering a second one.

use std::path::{Path, PathBuf};

use retrain_ml::model::{Model, VALIDATION_METRICS, dataset_hash};
use retrain_ml::{Dataset, Metrics, datasets};
use retrain_registry::entities::{Metric, ModelVersion, Param, Tag};
use retrain_registry::{MlflowClient, ModelRef, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Env, OpError, Outcome, shown};

/// The tag that ties a tracking run to the task instance that made it.
const INSTANCE_TAG: &str = "retrain.task_instance";

fn default_metric() -> String {
    "accuracy".into()
}
fn default_alias() -> String {
    "champion".into()
}
fn default_stage() -> Option<String> {
    Some("Production".into())
}
fn default_true() -> bool {
    true
}

/// Logs a model directory (params, metrics, training history, files) as a tracking run and registers it as a new version of `name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    model: PathBuf,
    name: String,
    /// Tracking experiment; the pipeline's name by default.
    experiment: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Registration {
    pub name: String,
    pub version: String,
    pub run_id: String,
}

impl Register {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let experiment = self.experiment.clone().unwrap_or_else(|| env.context.pipeline.clone());
        let r = register_model_dir(env, &self.model, &self.name, &experiment, &env.instance_key()).await?;
        println!("registered {} version {} (run {})", r.name, r.version, r.run_id);
        let model = Model::load(&self.model)?;
        let mut output = json!({"name": r.name, "version": r.version, "run_id": r.run_id,
            "model_uri": format!("models:/{}/{}", r.name, r.version)});
        if let Some(metrics) = model.metadata.metrics.get(VALIDATION_METRICS) {
            output["accuracy"] = json!(metrics.accuracy);
        }
        Ok(Outcome::Done(output))
    }
}

pub(super) async fn register_model_dir(
    env: &Env,
    dir: &Path,
    name: &str,
    experiment: &str,
    instance: &str,
) -> Result<Registration, OpError> {
    let tracking = env.tracking()?;
    let model = Model::load(dir)?;
    let experiment_id = tracking.experiment_id(experiment).await?;
    let filter = format!("tags.`{INSTANCE_TAG}` = '{instance}'");
    let earlier = tracking.search_runs(std::slice::from_ref(&experiment_id), &filter, &[], 1).await?;
    let run = match earlier.into_iter().next() {
        Some(run) => {
            println!("reusing tracking run {} of an earlier try", run.info.run_id);
            run
        }
        None => {
            let tags = [
                Tag { key: INSTANCE_TAG.into(), value: instance.into() },
                Tag { key: "mlflow.source.name".into(), value: env.context.pipeline.clone() },
                Tag { key: "mlflow.source.type".into(), value: "JOB".into() },
            ];
            let run_name = format!("{}-{}", model.metadata.name, env.context.ds);
            tracking.create_run(&experiment_id, &run_name, &tags).await?
        }
    };
    let run_id = run.info.run_id.clone();
    if run.info.status != "FINISHED" {
        log_model_run(tracking, &run_id, &run.info.artifact_uri, &model, dir).await?;
        tracking.finish_run(&run_id, "FINISHED").await?;
    }
    tracking.ensure_registered_model(name).await?;
    let existing =
        tracking.search_model_versions(&format!("name = '{name}' and run_id = '{run_id}'")).await?;
    let version = match existing.into_iter().next() {
        Some(v) => v,
        None => {
            let source = format!("{}/model", run.info.artifact_uri.trim_end_matches('/'));
            let tags = [Tag { key: INSTANCE_TAG.into(), value: instance.into() }];
            tracking.create_model_version(name, &source, Some(&run_id), &tags).await?
        }
    };
    Ok(Registration { name: name.to_owned(), version: version.version, run_id })
}

/// Params, the metrics of every set the model was measured on, the
/// training history (one metric per step) and the model's files.
async fn log_model_run(
    tracking: &MlflowClient,
    run_id: &str,
    artifact_uri: &str,
    model: &Model,
    dir: &Path,
) -> Result<(), OpError> {
    let now = now_ms();
    let mut params = vec![
        Param { key: "model".into(), value: model.metadata.algorithm.clone() },
        Param { key: "training_rows".into(), value: model.metadata.training_rows.to_string() },
        Param { key: "features".into(), value: model.metadata.features.len().to_string() },
    ];
    if let Value::Object(map) = &model.metadata.params {
        for (key, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.push(Param { key: key.clone(), value });
        }
    }
    // Every set the model was measured on (`validation_accuracy`,
    // `training_accuracy`, …), as MLflow's autologging names them.
    let mut metrics = Vec::new();
    for (set, measured) in &model.metadata.metrics {
        for (key, value) in measured.scalars() {
            metrics.push(Metric { key: format!("{set}_{key}"), value, timestamp: now, step: 0 });
        }
    }
    let history_path = dir.join("history.json");
    if let Ok(text) = std::fs::read_to_string(&history_path) {
        let history: retrain_ml::progress::History = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a training history: {e}", shown(&history_path)))?;
        for point in history.points {
            metrics.push(Metric {
                key: format!("train_{}", point.metric),
                value: point.value,
                timestamp: now,
                step: point.step as i64,
            });
        }
    }
    tracking.log_batch(run_id, &metrics, &params, &[]).await?;
    tracking.upload_dir(artifact_uri, "model", dir).await?;
    Ok(())
}

/// A metric's value, and whether higher is better.
fn score(metrics: &Metrics, metric: &str) -> Result<f64, OpError> {
    metrics.scalars().into_iter().find(|(k, _)| *k == metric).map(|(_, v)| v).ok_or_else(|| {
        let known: Vec<&str> = metrics.scalars().into_iter().map(|(k, _)| k).collect();
        format!("metric '{metric}' is not available; known: {}", known.join(", ")).into()
    })
}

fn lower_is_better(metric: &str) -> bool {
    metric == "log_loss"
}

fn beats(metric: &str, candidate: f64, champion: f64) -> bool {
    if lower_is_better(metric) { candidate < champion } else { candidate > champion }
}

/// A model ready to predict, and which one it is.
#[derive(Debug)]
pub struct OpenedModel {
    pub model: Model,
    /// The registry version, for a `models:/` URI.
    pub version: Option<String>,
    /// `NAME/VERSION` for registry models, the path for a directory.
    pub version_label: String,
}

/// Opens a model directory, or a registry URI (`models:/NAME@ALIAS`,
/// `models:/NAME/3`, `models:/NAME/Production`, `runs:/ID/PATH`) whose
/// files are downloaded once into the project's model cache.
pub async fn open_model(env: &Env, model: &str) -> Result<OpenedModel, OpError> {
    let uri = match ModelRef::parse(model)? {
        ModelRef::Dir(dir) => {
            return Ok(OpenedModel {
                model: Model::load(&dir)?,
                version: None,
                version_label: model.to_owned(),
            });
        }
        ModelRef::Registry(uri) => uri,
    };
    let tracking = env.tracking()?;
    let (version, dir) = tracking.fetch_model(&uri, Path::new(crate::project::paths::MODEL_CACHE)).await?;
    let loaded = Model::load(&dir)?;
    let label = version.as_ref().map_or_else(|| uri.to_string(), |v| format!("{}/{}", v.name, v.version));
    Ok(OpenedModel { model: loaded, version: version.map(|v| v.version), version_label: label })
}

async fn version_score(
    env: &Env,
    name: &str,
    version: &str,
    data: &Dataset,
    metric: &str,
) -> Result<f64, OpError> {
    let opened = open_model(env, &format!("models:/{name}/{version}")).await?;
    let target_name = opened.model.metadata.target.clone();
    let data = relabel(data, &target_name);
    score(&opened.model.evaluate(&data)?, metric)
}

/// The dataset with its label column named as the model expects.
fn relabel(data: &Dataset, target: &str) -> Dataset {
    let mut data = data.clone();
    if let Some(t) = data.target.as_mut() {
        t.name = target.to_owned();
    }
    data
}

/// Promotes `version` to `alias` (and `stage`) when it beats the current
/// holder of the alias on the same data — or unconditionally with
/// `only_if_better: false` (a deployment).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promote {
    name: String,
    version: String,
    data: Option<String>,
    target: Option<String>,
    #[serde(default = "default_metric")]
    metric: String,
    #[serde(default = "default_alias")]
    alias: String,
    #[serde(default = "default_stage")]
    stage: Option<String>,
    #[serde(default = "default_true")]
    only_if_better: bool,
}

impl Promote {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let tracking = env.tracking()?;
        let champion = current_holder(tracking, &self.name, &self.alias).await?;
        let mut output = json!({"name": self.name, "version": self.version, "promoted": false,
            "champion_version": champion.as_ref().map(|c| c.version.clone())});
        if champion.as_ref().is_some_and(|c| c.version == self.version) {
            println!("{} version {} already holds @{}", self.name, self.version, self.alias);
            return Ok(Outcome::Done(output));
        }
        let mut reason = format!("pipeline {} run {}", env.context.pipeline, env.context.run_id);
        if let Some(named) = &self.data {
            let data = datasets::load_named(named, self.target.as_deref())?;
            let candidate = version_score(env, &self.name, &self.version, &data, &self.metric).await?;
            output["candidate_score"] = json!(candidate);
            println!("candidate version {}: {} = {candidate:.4}", self.version, self.metric);
            if let Some(champion) = &champion {
                let current = version_score(env, &self.name, &champion.version, &data, &self.metric).await?;
                output["champion_score"] = json!(current);
                println!("champion version {}: {} = {current:.4}", champion.version, self.metric);
                if self.only_if_better && !beats(&self.metric, candidate, current) {
                    println!("not promoted: version {} does not beat the champion", self.version);
                    return Ok(Outcome::Done(output));
                }
                reason = format!(
                    "{reason}: {} {candidate:.4} vs {current:.4} of version {}",
                    self.metric, champion.version
                );
            } else {
                reason =
                    format!("{reason}: first version with an evaluation ({} {candidate:.4})", self.metric);
            }
        } else if self.only_if_better && champion.is_some() {
            return Err(
                "promote with only_if_better needs 'data' to compare the candidate with the champion".into(),
            );
        }
        promote(tracking, &self.name, &self.version, &self.alias, self.stage.as_deref(), &reason).await?;
        println!("promoted {} version {} to @{}", self.name, self.version, self.alias);
        output["promoted"] = json!(true);
        Ok(Outcome::Done(output))
    }
}

async fn current_holder(
    tracking: &MlflowClient,
    name: &str,
    alias: &str,
) -> Result<Option<ModelVersion>, OpError> {
    match tracking.get_version_by_alias(name, alias).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == retrain_registry::ErrorCode::ResourceDoesNotExist => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn promote(
    tracking: &MlflowClient,
    name: &str,
    version: &str,
    alias: &str,
    stage: Option<&str>,
    reason: &str,
) -> Result<(), OpError> {
    if let Some(stage) = stage {
        tracking.transition_stage(name, version, stage, true, reason).await?;
    }
    tracking.set_alias(name, alias, version, reason).await?;
    Ok(())
}

/// Scores every version of a model on one fixed dataset (each version
/// once per dataset: the score is kept as a version tag) and moves the
/// alias and stage to the best. A tie keeps the current champion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteBest {
    name: String,
    data: String,
    target: Option<String>,
    #[serde(default = "default_metric")]
    metric: String,
    #[serde(default = "default_alias")]
    alias: String,
    #[serde(default = "default_stage")]
    stage: Option<String>,
}

impl PromoteBest {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let tracking = env.tracking()?;
        let data = datasets::load_named(&self.data, self.target.as_deref())?;
        let data_id = dataset_hash(&data);
        let score_tag = format!("retrain.score.{}", self.metric);
        let data_tag = "retrain.score.data";
        let versions = tracking.search_model_versions(&format!("name = '{}'", self.name)).await?;
        if versions.is_empty() {
            return Ok(Outcome::Skipped(format!("model '{}' has no versions", self.name)));
        }
        let mut scored: Vec<(String, f64)> = Vec::new();
        for v in &versions {
            let tag = |key: &str| v.tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
            let cached = (tag(data_tag).as_deref() == Some(data_id.as_str()))
                .then(|| tag(&score_tag).and_then(|s| s.parse::<f64>().ok()))
                .flatten();
            let value = match cached {
                Some(value) => value,
                None => match version_score(env, &self.name, &v.version, &data, &self.metric).await {
                    Ok(value) => {
                        tracking
                            .set_model_version_tag(
                                &self.name,
                                &v.version,
                                &Tag { key: score_tag.clone(), value: value.to_string() },
                            )
                            .await?;
                        tracking
                            .set_model_version_tag(
                                &self.name,
                                &v.version,
                                &Tag { key: data_tag.into(), value: data_id.clone() },
                            )
                            .await?;
                        println!("version {}: {} = {value:.4}", v.version, self.metric);
                        value
                    }
                    Err(e) => {
                        println!("version {} skipped: {e}", v.version);
                        continue;
                    }
                },
            };
            scored.push((v.version.clone(), value));
        }
        let champion = current_holder(tracking, &self.name, &self.alias).await?.map(|c| c.version);
        let Some(best) = best_version(&scored, champion.as_deref(), lower_is_better(&self.metric)) else {
            return Err(format!("no version of '{}' could be evaluated", self.name).into());
        };
        let best_score = scored.iter().find(|(v, _)| *v == best).map(|(_, s)| *s).unwrap_or(f64::NAN);
        let promoted = champion.as_deref() != Some(best.as_str());
        if promoted {
            let reason = format!(
                "pipeline {} run {}: best {} ({best_score:.4}) of {} versions",
                env.context.pipeline,
                env.context.run_id,
                self.metric,
                scored.len()
            );
            promote(tracking, &self.name, &best, &self.alias, self.stage.as_deref(), &reason).await?;
            println!("promoted version {best} ({} {best_score:.4}) to @{}", self.metric, self.alias);
        } else {
            println!("champion version {best} stays ({} {best_score:.4})", self.metric);
        }
        Ok(Outcome::Done(json!({"name": self.name, "version": best, "score": best_score,
            "promoted": promoted, "evaluated": scored.len()})))
    }
}

/// The best-scoring version; among equal scores the current champion
/// stays, else the newest version wins.
fn best_version(scored: &[(String, f64)], champion: Option<&str>, lower_is_better: bool) -> Option<String> {
    let better = |a: f64, b: f64| if lower_is_better { a < b } else { a > b };
    let mut best: Option<(&str, f64)> = None;
    for (version, value) in scored {
        best = match best {
            None => Some((version, *value)),
            Some((current, current_value)) => {
                let newer = version.parse::<u64>().unwrap_or(0) > current.parse::<u64>().unwrap_or(0);
                let tie = *value == current_value;
                if better(*value, current_value)
                    || (tie
                        && current != champion.unwrap_or("")
                        && (Some(version.as_str()) == champion || newer))
                {
                    Some((version, *value))
                } else {
                    Some((current, current_value))
                }
            }
        };
    }
    best.map(|(v, _)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(v, s)| (v.to_string(), *s)).collect()
    }

    #[test]
    fn the_best_score_wins_and_ties_keep_the_champion() {
        let s = scored(&[("1", 0.90), ("2", 0.95), ("3", 0.95)]);
        assert_eq!(best_version(&s, Some("2"), false).as_deref(), Some("2"));
        assert_eq!(best_version(&s, Some("1"), false).as_deref(), Some("3"));
        assert_eq!(best_version(&s, None, false).as_deref(), Some("3"));
        let s = scored(&[("1", 0.30), ("2", 0.20)]);
        assert_eq!(best_version(&s, Some("1"), true).as_deref(), Some("2"));
        assert_eq!(best_version(&[], None, false), None);
    }
}
