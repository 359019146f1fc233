//! Sensors: one poke per task try. A poke that finds its condition false
//! answers [`Outcome::NotYet`] and the scheduler pokes again after
//! `poke_interval`, with the slot free in between (Airflow's reschedule
//! mode); the sensor's `timeout` bounds the whole wait.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::{Env, OpError, Outcome, shown};

/// A file exists (non-empty with `non_empty`), or a glob matches at least
/// `min_count` files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSensor {
    path: String,
    #[serde(default)]
    non_empty: bool,
    min_count: Option<usize>,
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

fn glob_matches(pattern: &str) -> Result<Vec<PathBuf>, OpError> {
    let paths = glob::glob(pattern).map_err(|e| format!("bad glob '{pattern}': {e}"))?;
    Ok(paths.filter_map(Result::ok).filter(|p| p.is_file()).collect())
}

impl FileSensor {
    pub fn poke(&self) -> Result<Outcome, OpError> {
        if is_glob(&self.path) || self.min_count.is_some() {
            let found = glob_matches(&self.path)?;
            let wanted = self.min_count.unwrap_or(1);
            if found.len() >= wanted {
                return Ok(Outcome::Done(json!({"files": found})));
            }
            return Ok(Outcome::NotYet(format!("{} of {wanted} files match {}", found.len(), self.path)));
        }
        let path = Path::new(&self.path);
        match std::fs::metadata(path) {
            Ok(m) if self.non_empty && m.len() == 0 => {
                Ok(Outcome::NotYet(format!("{} is empty", shown(path))))
            }
            Ok(m) => Ok(Outcome::Done(json!({"path": path, "bytes": m.len()}))),
            Err(_) => Ok(Outcome::NotYet(format!("{} does not exist yet", shown(path)))),
        }
    }
}

/// A registered model has a version at `alias` or in `stage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSensor {
    name: String,
    alias: Option<String>,
    stage: Option<String>,
}

impl ModelSensor {
    pub async fn poke(&self, env: &Env) -> Result<Outcome, OpError> {
        let tracking = env.tracking()?;
        let found = match (&self.alias, &self.stage) {
            (Some(alias), None) => match tracking.get_version_by_alias(&self.name, alias).await {
                Ok(v) => Some(v),
                Err(e) if e.code == retrain_registry::ErrorCode::ResourceDoesNotExist => None,
                Err(e) => return Err(e.into()),
            },
            (None, Some(stage)) => match tracking.get_latest_versions(&self.name, &[stage.as_str()]).await {
                Ok(versions) => versions.into_iter().next(),
                Err(e) if e.code == retrain_registry::ErrorCode::ResourceDoesNotExist => None,
                Err(e) => return Err(e.into()),
            },
            _ => return Err("the model sensor needs exactly one of 'alias' or 'stage'".into()),
        };
        let wanted = self.alias.as_ref().map(|a| format!("@{a}")).or(self.stage.clone()).unwrap_or_default();
        Ok(match found {
            Some(v) => Outcome::Done(json!({"name": v.name, "version": v.version})),
            None => Outcome::NotYet(format!("model '{}' has no version {wanted} yet", self.name)),
        })
    }
}

/// Another pipeline's run for the same data interval succeeded (or one of
/// its tasks did).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSensor {
    pipeline: String,
    task: Option<String>,
}

impl PipelineSensor {
    pub async fn poke(&self, env: &Env) -> Result<Outcome, OpError> {
        let state = env.state()?;
        let done =
            state.succeeded_for_interval(&self.pipeline, self.task.as_deref(), env.interval_start).await?;
        let what = match &self.task {
            Some(task) => format!("task '{task}' of pipeline '{}'", self.pipeline),
            None => format!("pipeline '{}'", self.pipeline),
        };
        Ok(match done {
            Some(run_id) => Outcome::Done(json!({"run_id": run_id})),
            None => Outcome::NotYet(format!("{what} has not succeeded for {} yet", env.context.ds)),
        })
    }
}

/// Files in a folder matching any of `patterns` (`["*"]` by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSensor {
    path: PathBuf,
    #[serde(default = "any_file")]
    patterns: Vec<String>,
}

fn any_file() -> Vec<String> {
    vec!["*".into()]
}

impl InboxSensor {
    pub fn poke(&self) -> Result<Outcome, OpError> {
        let mut found = Vec::new();
        for pattern in &self.patterns {
            found.extend(glob_matches(&self.path.join(pattern).to_string_lossy())?);
        }
        found.sort();
        found.dedup();
        Ok(if found.is_empty() {
            Outcome::NotYet(format!("no new file in {}", shown(&self.path)))
        } else {
            Outcome::Done(json!({"files": found}))
        })
    }
}
