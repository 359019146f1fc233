//! `retrain train`, `retrain evaluate` and `retrain predict`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use retrain_flow::project::paths;
use retrain_ml::model::{self, Model};
use retrain_ml::{ClassifierConfig, Metrics, atomic};

use retrain_server::serving::ModelSource;

use super::{UsageError, load_labelled};
use crate::progress::TrainingProgress;

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Classifier config (JSON or YAML).
    #[arg(long)]
    config: PathBuf,
    /// Training data: a directory with data.csv + target.csv, a CSV, or a
    /// built-in dataset (iris, wine, breast_cancer).
    #[arg(long)]
    data: String,
    /// Label column of a single CSV (default: the last column).
    #[arg(long)]
    target: Option<String>,
    /// Labelled validation data; its metrics are stored with the model.
    #[arg(long)]
    validation: Option<String>,
    /// Model directory to write (replaced atomically if it exists).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// Model directory written by `retrain train`.
    #[arg(long)]
    model: PathBuf,
    /// Labelled data: a CSV, a directory with data.csv + target.csv, or a built-in name.
    #[arg(long)]
    data: String,
    /// Label column (default: the one the model was trained on).
    #[arg(long)]
    target: Option<String>,
    /// Also write the metrics to this JSON file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct PredictArgs {
    /// Model directory written by `retrain train`, or a registry URI
    /// (models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE)
    /// resolved through MLFLOW_TRACKING_URI.
    #[arg(long)]
    model: String,
    /// CSV of features with a header; columns are matched by name.
    #[arg(long)]
    input: PathBuf,
    /// Where to write predictions (CSV with a `prediction` column).
    #[arg(long)]
    output: PathBuf,
    /// Add a `proba_<class>` column per class.
    #[arg(long)]
    proba: bool,
}

pub(crate) fn train(args: TrainArgs) -> Result<()> {
    let config = ClassifierConfig::from_file(&args.config)?;
    let data = load_labelled(&args.data, args.target.as_deref())?;
    // Validation data is checked before the (possibly long) fit.
    let validation = match &args.validation {
        Some(named) => {
            let target = data.target.as_ref().map(|t| t.name.as_str());
            Some(load_labelled(named, target)?)
        }
        None => None,
    };
    tracing::info!(model = config.spec.name(), name = %config.name, rows = data.rows(), "training");
    let started = std::time::Instant::now();
    let (mut model, history) = model::train(&config, &data, &TrainingProgress::new())?;
    for warning in &history.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(validation) = &validation {
        let metrics = model.evaluate(validation)?;
        model.metadata.metrics.insert(model::VALIDATION_METRICS.into(), metrics);
    }
    model.save(&args.out, &history)?;
    let mut summary: String = [model::VALIDATION_METRICS, model::TRAINING_METRICS]
        .into_iter()
        .find_map(|set| {
            model.metadata.metrics.get(set).map(|m| format!(", {set} accuracy {:.4}", m.accuracy))
        })
        .unwrap_or_default();
    if let Some(accuracy) = model.metadata.out_of_bag_accuracy {
        summary.push_str(&format!(", out-of-bag accuracy {accuracy:.4}"));
    }
    println!(
        "trained {} '{}' on {} rows in {:.2}s{summary}; model written to {}",
        config.spec.name(),
        config.name,
        data.rows(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

pub(crate) fn evaluate(args: EvaluateArgs) -> Result<()> {
    let model = Model::load(&args.model)?;
    let target = args.target.unwrap_or_else(|| model.metadata.target.clone());
    let data = load_labelled(&args.data, Some(&target))?;
    let metrics = model.evaluate(&data)?;
    let json = metrics_json(&metrics);
    if let Some(out) = &args.out {
        atomic::write_file(out, &json)?;
    }
    print!("{}", String::from_utf8_lossy(&json));
    Ok(())
}

fn metrics_json(metrics: &Metrics) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(metrics).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

pub(crate) fn predict(args: PredictArgs) -> Result<()> {
    let tracking = std::env::var("MLFLOW_TRACKING_URI").ok();
    let source = ModelSource::parse(&args.model, tracking.as_deref(), Path::new(paths::MODEL_CACHE))
        .map_err(|e| UsageError(e.to_string()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime
        .block_on(source.load())
        .map_err(|e| UsageError(format!("cannot load {}: {e}", args.model)))?;
    let model = served.model;
    let input = model.read_input(&args.input)?;
    let predictions = model.predict(&input)?;
    if args.proba && !predictions.has_proba {
        tracing::warn!("{} has no class probabilities; writing labels only", model.metadata.algorithm);
    }
    let registered = (served.version != "local").then(|| format!("{}/{}", served.name, served.version));
    atomic::write_file(&args.output, &predictions.to_csv(&model, args.proba, registered.as_deref()))?;
    println!("wrote {} predictions to {}", input.rows(), args.output.display());
    Ok(())
}
