//! The built-in ML steps: generate, prepare, split, train, evaluate,
//! predict, and training every config dropped into an inbox. Paths are
//! relative to the project directory (a task instance runs there); every
//! file is written atomically, so a killed task leaves no half-written
//! output where the next step reads.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use retrain_ml::datasets::{self, SyntheticSpec};
use retrain_ml::model::{self, Model, VALIDATION_METRICS};
use retrain_ml::progress::NoProgress;
use retrain_ml::{ClassifierConfig, Metrics, atomic, data, split};
use serde::Deserialize;
use serde_json::{Value, json};

use super::models::{Registration, open_model, register_model_dir};
use super::{Env, OpError, Outcome, shown};

fn default_rows() -> usize {
    1000
}
fn default_features() -> usize {
    20
}
fn default_informative() -> usize {
    5
}
fn default_classes() -> usize {
    3
}
fn default_noise() -> f64 {
    0.01
}
fn default_validation() -> f64 {
    0.2
}
fn default_seed() -> u64 {
    42
}
fn default_one() -> f64 {
    1.0
}

/// Writes `output/data.csv` and `output/target.csv`: a built-in dataset,
/// or the synthetic generator for the run's day (drifting when `drift` > 0).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    output: PathBuf,
    /// A built-in dataset instead of synthetic data.
    dataset: Option<String>,
    #[serde(default = "default_rows")]
    rows: usize,
    #[serde(default = "default_features")]
    features: usize,
    #[serde(default = "default_informative")]
    informative: usize,
    #[serde(default)]
    redundant: usize,
    #[serde(default = "default_classes")]
    classes: usize,
    #[serde(default = "default_noise")]
    noise: f64,
    #[serde(default = "default_one")]
    class_sep: f64,
    #[serde(default)]
    drift: f64,
    /// The structure of the data (class centres, drift directions); each
    /// day samples different rows from it.
    #[serde(default)]
    seed: u64,
    /// The day the data describes; the run's `ds` by default.
    date: Option<String>,
}

impl Generate {
    pub fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let dataset = match &self.dataset {
            Some(name) => datasets::builtin(name).ok_or_else(|| {
                format!("unknown dataset '{name}'; built-in: {}", datasets::BUILTIN.join(", "))
            })?,
            None => {
                let day = self.date.as_deref().unwrap_or(&env.context.ds);
                let date = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| format!("date '{day}' is not YYYY-MM-DD"))?;
                datasets::synthetic(&SyntheticSpec {
                    rows: self.rows,
                    n_features: self.features,
                    n_informative: self.informative,
                    n_redundant: self.redundant,
                    n_classes: self.classes,
                    n_clusters_per_class: 2,
                    weights: None,
                    flip_y: self.noise,
                    class_sep: self.class_sep,
                    seed: self.seed,
                    drift: self.drift,
                    date,
                })?
            }
        };
        datasets::write_dir(&dataset, &self.output)?;
        println!("wrote {} rows to {}", dataset.rows(), shown(&self.output));
        Ok(Outcome::Done(json!({"rows": dataset.rows(), "path": self.output})))
    }
}

/// Joins `input` (data.csv + target.csv, a CSV or a built-in name) into one
/// labelled CSV.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prepare {
    input: String,
    output: PathBuf,
    target: Option<String>,
}

impl Prepare {
    pub fn run(&self) -> Result<Outcome, OpError> {
        let dataset = datasets::load_named(&self.input, self.target.as_deref())?;
        dataset.require_target()?;
        atomic::write_file(&self.output, &data::dataset_to_csv(&dataset))?;
        println!("wrote {} rows to {}", dataset.rows(), shown(&self.output));
        Ok(Outcome::Done(json!({"rows": dataset.rows(), "path": self.output})))
    }
}

/// Stratified split into `output/train.csv`, `val.csv` (and `test.csv`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    input: String,
    output: PathBuf,
    target: Option<String>,
    #[serde(default = "default_validation")]
    validation: f64,
    #[serde(default)]
    test: f64,
    #[serde(default = "default_seed")]
    seed: u64,
}

impl Split {
    pub fn run(&self) -> Result<Outcome, OpError> {
        let dataset = datasets::load_named(&self.input, self.target.as_deref())?;
        let mut output = serde_json::Map::new();
        for (name, path, rows) in
            split::write_parts(&dataset, &self.output, self.validation, self.test, self.seed)?
        {
            println!("wrote {rows} rows to {}", shown(&path));
            output.insert(name.to_owned(), json!(path));
        }
        Ok(Outcome::Done(Value::Object(output)))
    }
}

/// Trains a classifier from a config; metrics on `validation` are stored
/// with the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Train {
    pub(super) config: String,
    data: String,
    output: PathBuf,
    validation: Option<String>,
    target: Option<String>,
}

/// Trains, evaluates on `validation` when given, and saves to `output`.
fn train_model(
    config: &ClassifierConfig,
    data: &str,
    target: Option<&str>,
    validation: Option<&str>,
    output: &Path,
) -> Result<Model, OpError> {
    let data = datasets::load_named(data, target)?;
    let validation = match validation {
        Some(named) => Some(datasets::load_named(named, data.target.as_ref().map(|t| t.name.as_str()))?),
        None => None,
    };
    println!("training {} '{}' on {} rows", config.spec.name(), config.name, data.rows());
    let (mut model, history) = model::train(config, &data, &NoProgress)?;
    for warning in &history.warnings {
        println!("warning: {warning}");
    }
    if let Some(validation) = &validation {
        let metrics = model.evaluate(validation)?;
        println!("validation accuracy {:.4} on {} rows", metrics.accuracy, metrics.n_samples);
        model.metadata.metrics.insert(VALIDATION_METRICS.into(), metrics);
    }
    model.save(output, &history)?;
    println!("model written to {}", shown(output));
    Ok(model)
}

fn metric_summary(metrics: &Metrics) -> Value {
    json!({
        "accuracy": metrics.accuracy,
        "f1_macro": metrics.f1_macro,
        "precision_macro": metrics.precision_macro,
        "recall_macro": metrics.recall_macro,
        "roc_auc": metrics.roc_auc,
        "log_loss": metrics.log_loss,
        "n_samples": metrics.n_samples,
    })
}

impl Train {
    pub fn run(&self) -> Result<Outcome, OpError> {
        let config = ClassifierConfig::from_file(Path::new(&self.config))?;
        let model = train_model(
            &config,
            &self.data,
            self.target.as_deref(),
            self.validation.as_deref(),
            &self.output,
        )?;
        let mut output =
            json!({"model": self.output, "name": config.name, "algorithm": model.metadata.algorithm});
        if let Some(metrics) = model.metadata.metrics.get(VALIDATION_METRICS) {
            output[VALIDATION_METRICS] = metric_summary(metrics);
        }
        Ok(Outcome::Done(output))
    }
}

/// Measures a model (a directory or a registry URI) on labelled data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluate {
    model: PathBuf,
    data: String,
    output: Option<PathBuf>,
    target: Option<String>,
}

impl Evaluate {
    pub fn run(&self) -> Result<Outcome, OpError> {
        let model = Model::load(&self.model)?;
        let target = self.target.clone().unwrap_or_else(|| model.metadata.target.clone());
        let data = datasets::load_named(&self.data, Some(&target))?;
        let metrics = model.evaluate(&data)?;
        if let Some(output) = &self.output {
            let mut bytes = serde_json::to_vec_pretty(&metrics)?;
            bytes.push(b'\n');
            atomic::write_file(output, &bytes)?;
        }
        println!(
            "accuracy {:.4}, f1_macro {:.4} on {} rows",
            metrics.accuracy, metrics.f1_macro, metrics.n_samples
        );
        Ok(Outcome::Done(metric_summary(&metrics)))
    }
}

/// Batch predictions with a model directory or a registry URI
/// (`models:/NAME@champion`); the model's version goes into every row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predict {
    model: String,
    input: PathBuf,
    output: PathBuf,
    #[serde(default)]
    proba: bool,
}

impl Predict {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let opened = open_model(env, &self.model).await?;
        let input = opened.model.read_input(&self.input)?;
        let predictions = opened.model.predict(&input)?;
        let csv = predictions.to_csv(&opened.model, self.proba, Some(&opened.version_label));
        atomic::write_file(&self.output, &csv)?;
        println!("wrote {} predictions by {} to {}", input.rows(), opened.version_label, shown(&self.output));
        Ok(Outcome::Done(json!({
            "rows": input.rows(),
            "path": self.output,
            "model_version": opened.version.clone(),
            "model": opened.version_label,
        })))
    }
}

/// Trains every classifier config in `inbox` (`.json`, `.yaml`, `.yml`),
/// registers each as a model named after the config, and moves the file to
/// `done`, or to `failed` with a `.error` file saying why. One bad config
/// never stops the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfigs {
    inbox: PathBuf,
    done: PathBuf,
    failed: PathBuf,
    data: String,
    validation: Option<String>,
    target: Option<String>,
    /// Where model directories go: `models/<config name>`.
    models: PathBuf,
    experiment: Option<String>,
}

pub(super) fn is_config_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")) && path.is_file()
}

impl TrainConfigs {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .map_err(|e| format!("cannot read {}: {e}", shown(&self.inbox)))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| is_config_file(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Ok(Outcome::Skipped(format!("no config in {}", shown(&self.inbox))));
        }
        let mut trained = Vec::new();
        let mut failed = Vec::new();
        for file in files {
            let file_name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            match self.train_one(env, &file).await {
                Ok(registration) => {
                    move_file(&file, &self.done.join(&file_name))?;
                    println!(
                        "{}: registered {} version {}",
                        shown(&file),
                        registration.name,
                        registration.version
                    );
                    trained.push(json!({"config": file_name.to_string_lossy(), "name": registration.name, "version": registration.version}));
                }
                Err(error) => {
                    let target = self.failed.join(&file_name);
                    let mut error_file = target.clone().into_os_string();
                    error_file.push(".error");
                    atomic::write_file(Path::new(&error_file), format!("{error}\n").as_bytes())?;
                    move_file(&file, &target)?;
                    println!("{}: failed: {error}", shown(&file));
                    failed.push(json!({"config": file_name.to_string_lossy(), "error": error.to_string()}));
                }
            }
        }
        Ok(Outcome::Done(json!({"trained": trained, "failed": failed})))
    }

    async fn train_one(&self, env: &Env, file: &Path) -> Result<Registration, OpError> {
        let config = ClassifierConfig::from_file(file)?;
        let output = self.models.join(&config.name);
        train_model(&config, &self.data, self.target.as_deref(), self.validation.as_deref(), &output)?;
        let experiment = self.experiment.clone().unwrap_or_else(|| env.context.pipeline.clone());
        let instance = format!("{}/{}", env.instance_key(), config.name);
        register_model_dir(env, &output, &config.name, &experiment, &instance).await
    }
}

/// Moves a file, across file systems if need be.
fn move_file(from: &Path, to: &Path) -> Result<(), OpError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", shown(parent)))?;
    }
    if std::fs::rename(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| format!("cannot copy {} to {}: {e}", shown(from), shown(to)))?;
        std::fs::remove_file(from).map_err(|e| format!("cannot remove {}: {e}", shown(from)))?;
    }
    Ok(())
}
