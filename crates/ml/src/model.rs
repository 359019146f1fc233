//! Trained models: training from a config, the on-disk model directory,
//! prediction and evaluation.
//!
//! A model directory holds
//! - `model.bin`: a magic header then the fitted estimator and imputer
//!   (postcard);
//! - `metadata.json`: format version, algorithm, params, feature names and
//!   order, class labels, training-data hash, metrics, creation time,
//!   retrain version and the sha256 of `model.bin`;
//! - `metrics.json` and `history.json`: the metrics and the per-step
//!   training history, for people and for tracking.
//!
//! The directory is replaced as a whole (see [`crate::atomic`]). Loading
//! checks the format version, the checksum and the estimator's shapes, so a
//! truncated, corrupted or foreign directory is an error, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic;
use crate::config::{ClassifierConfig, Impute};
use crate::data::{self, Dataset, Matrix};
use crate::error::{Error, Result};
use crate::impute::Imputer;
use crate::metrics::Metrics;
use crate::models::{Estimator, argmax};
use crate::progress::{History, OUT_OF_BAG_ACCURACY, Progress};

/// The model format this build writes and the newest it reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"RETRAIN\0";
/// The fitted estimator and imputer inside a model directory.
pub const MODEL_FILE: &str = "model.bin";
/// [`Metadata`] as JSON inside a model directory.
pub const METADATA_FILE: &str = "metadata.json";
/// The metrics by data set as JSON inside a model directory.
pub const METRICS_FILE: &str = "metrics.json";
/// The training [`History`] as JSON inside a model directory.
pub const HISTORY_FILE: &str = "history.json";
/// The key of the training-set metrics in [`Metadata::metrics`].
pub const TRAINING_METRICS: &str = "training";
/// The key of the held-out metrics in [`Metadata::metrics`], when the
/// trainer measured any.
pub const VALIDATION_METRICS: &str = "validation";

/// More classes than this is almost certainly the wrong column, and would
/// make tree leaves (one probability per class) enormous.
pub(crate) const MAX_CLASSES: usize = 1000;

/// Everything recorded about a model besides its fitted numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The model format the directory is written in.
    pub format_version: u32,
    /// The version of retrain that trained the model.
    pub retrain_version: String,
    /// The config's name.
    pub name: String,
    /// The algorithm, as in a config's `model` field (e.g. `random_forest`).
    pub algorithm: String,
    /// Every parameter of the algorithm, defaults filled in.
    pub params: serde_json::Value,
    /// The seed the model was fitted with.
    pub seed: u64,
    /// How missing values were (and will be) handled.
    pub impute: Impute,
    /// Feature names in the order the model reads them.
    pub features: Vec<String>,
    /// Name of the label column.
    pub target: String,
    /// Class labels as trained; predictions are given back as these.
    pub classes: Vec<String>,
    /// Whether the model scores with class probabilities (every algorithm
    /// but the linear SVM).
    pub has_proba: bool,
    /// Rows the model was fitted on.
    pub training_rows: usize,
    /// [`dataset_hash`] of the training data, hex.
    pub training_data_sha256: String,
    /// Metrics by the data set they were measured on: always
    /// [`TRAINING_METRICS`] (the rows the model was fitted on, as MLflow's
    /// autologging records them), and [`VALIDATION_METRICS`] when held-out
    /// data was given.
    pub metrics: BTreeMap<String, Metrics>,
    /// Accuracy on the rows each tree of a bagged forest did not see: an
    /// honest estimate without held-out data. Absent for other models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_bag_accuracy: Option<f64>,
    /// When training finished.
    pub created_at: DateTime<Utc>,
    /// sha256 of `model.bin`, hex; empty until the model is saved.
    pub model_sha256: String,
}

/// `metrics.json`: the metrics of each data set, and the out-of-bag
/// accuracy beside them when the model has one.
#[derive(Serialize)]
struct MetricsFile<'a> {
    #[serde(flatten)]
    by_dataset: &'a BTreeMap<String, Metrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_of_bag_accuracy: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    imputer: Option<Imputer>,
    estimator: Estimator,
}

/// A fitted model with its metadata.
#[derive(Debug)]
pub struct Model {
    /// What was trained on what, and how well it did; `metadata.json`.
    pub metadata: Metadata,
    body: Body,
}

/// Labels, class indices and scores for each input row.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The predicted class of each row, an index into
    /// [`Metadata::classes`] (see [`Model::label`]).
    pub class_index: Vec<u32>,
    /// One column per class, one row per input row; probabilities when
    /// `has_proba`, decision values otherwise.
    pub scores: Matrix,
    /// Whether `scores` are class probabilities (each row sums to 1).
    pub has_proba: bool,
}

/// Trains the model `config` describes on a labelled dataset.
pub fn train(config: &ClassifierConfig, data: &Dataset, progress: &dyn Progress) -> Result<(Model, History)> {
    let target = data.require_target()?;
    if config.impute == Impute::Error {
        data.require_complete()?;
    }
    let classes = data::classes_of(&target.labels);
    if classes.len() < 2 {
        return Err(Error::Invalid(format!(
            "{}: the target '{}' has a single class ('{}'); a classifier needs at least two",
            target.source.display(),
            target.name,
            classes.first().map(String::as_str).unwrap_or_default()
        )));
    }
    if classes.len() > MAX_CLASSES || (data.rows() >= 20 && classes.len() * 2 > data.rows()) {
        return Err(Error::Invalid(format!(
            "{}: the target '{}' has {} distinct values in {} rows, which looks like a feature \
             or a measurement rather than class labels (at most {MAX_CLASSES} classes, and fewer \
             than half the rows); name the label column with --target",
            target.source.display(),
            target.name,
            classes.len(),
            data.rows()
        )));
    }
    let y = target.encode(&classes)?;
    let imputer = Imputer::fit(&data.x, config.impute, &data.features)?;
    let mut x = data.x.clone();
    if let Some(imputer) = &imputer {
        imputer.apply(&mut x);
    }
    let (estimator, history) = config
        .spec
        .fit(&x, &y, classes.len(), config.seed, progress)
        .map_err(|e| Error::Invalid(format!("config '{}': {e}", config.name)))?;
    let training = {
        let scores = estimator.scores(&x);
        let predicted: Vec<u32> = (0..scores.rows()).map(|i| argmax(scores.row(i)) as u32).collect();
        Metrics::compute(&y, &predicted, estimator.has_proba().then_some(&scores), &classes)
    };
    let out_of_bag_accuracy =
        history.points.iter().rev().find(|p| p.metric == OUT_OF_BAG_ACCURACY).map(|p| p.value);
    let metadata = Metadata {
        format_version: FORMAT_VERSION,
        retrain_version: env!("CARGO_PKG_VERSION").to_owned(),
        name: config.name.clone(),
        algorithm: config.spec.name().to_owned(),
        params: config.spec.params_json(),
        seed: config.seed,
        impute: config.impute,
        features: data.features.clone(),
        target: target.name.clone(),
        classes,
        has_proba: estimator.has_proba(),
        training_rows: data.rows(),
        training_data_sha256: dataset_hash(data),
        metrics: BTreeMap::from([(TRAINING_METRICS.to_owned(), training)]),
        out_of_bag_accuracy,
        created_at: Utc::now(),
        model_sha256: String::new(),
    };
    Ok((Model { metadata, body: Body { imputer, estimator } }, history))
}

/// sha256 over column names, values and labels: the identity of the data.
pub fn dataset_hash(data: &Dataset) -> String {
    let mut hasher = Sha256::new();
    for name in &data.features {
        hasher.update(name.as_bytes());
        hasher.update([0]);
    }
    for v in data.x.as_slice() {
        hasher.update(v.to_le_bytes());
    }
    if let Some(target) = &data.target {
        hasher.update(target.name.as_bytes());
        for label in &target.labels {
            hasher.update([0]);
            hasher.update(label.as_bytes());
        }
    }
    format!("{:x}", hasher.finalize())
}

impl Model {
    /// Writes the model directory, replacing any previous one atomically.
    pub fn save(&mut self, dir: &Path, history: &History) -> Result<()> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let body =
            postcard::to_stdvec(&self.body).map_err(|e| Error::write(dir, std::io::Error::other(e)))?;
        bytes.extend_from_slice(&body);
        self.metadata.model_sha256 = format!("{:x}", Sha256::digest(&bytes));
        let metadata = to_json(&self.metadata);
        let metrics = to_json(&MetricsFile {
            by_dataset: &self.metadata.metrics,
            out_of_bag_accuracy: self.metadata.out_of_bag_accuracy,
        });
        let history = to_json(history);
        atomic::write_dir(
            dir,
            &[
                (MODEL_FILE, &bytes),
                (METADATA_FILE, &metadata),
                (METRICS_FILE, &metrics),
                (HISTORY_FILE, &history),
            ],
        )
    }

    /// Loads and verifies a model directory.
    pub fn load(dir: &Path) -> Result<Model> {
        if !dir.exists() {
            return Err(Error::model(dir, "no such model directory"));
        }
        if !dir.is_dir() {
            return Err(Error::model(
                dir,
                "not a directory; a model is the directory `retrain train --out` writes",
            ));
        }
        let metadata_path = dir.join(METADATA_FILE);
        let text = std::fs::read_to_string(&metadata_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::model(dir, format!("no {METADATA_FILE}; not a model directory written by retrain"))
            } else {
                Error::read(&metadata_path, e)
            }
        })?;
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("format_version").and_then(|f| f.as_u64()))
            .ok_or_else(|| Error::model(&metadata_path, "not retrain model metadata (no format_version)"))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(Error::model(
                &metadata_path,
                format!(
                    "written by a newer retrain (model format {version}; this build reads up to {FORMAT_VERSION})"
                ),
            ));
        }
        let metadata: Metadata = serde_json::from_str(&text)
            .map_err(|e| Error::model(&metadata_path, format!("corrupted metadata: {e}")))?;
        let model_path = dir.join(MODEL_FILE);
        let bytes =
            std::fs::read(&model_path).map_err(|e| Error::model(&model_path, format!("cannot read: {e}")))?;
        if format!("{:x}", Sha256::digest(&bytes)) != metadata.model_sha256 {
            return Err(Error::model(
                &model_path,
                "does not match the sha256 recorded in metadata.json: the file is truncated or corrupted",
            ));
        }
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(Error::model(&model_path, "not a retrain model file"));
        }
        let body: Body = postcard::from_bytes(&bytes[12..])
            .map_err(|e| Error::model(&model_path, format!("cannot decode the model: {e}")))?;
        let consistent = body.estimator.is_well_formed(metadata.features.len(), metadata.classes.len())
            && body.imputer.as_ref().is_none_or(|i| i.values.len() == metadata.features.len());
        if !consistent {
            return Err(Error::model(
                &model_path,
                "the model does not match its metadata (features or classes)",
            ));
        }
        Ok(Model { metadata, body })
    }

    /// Reads a CSV of features for this model: its target column, if
    /// present, is not taken for a feature.
    pub fn read_input(&self, path: &Path) -> Result<Dataset> {
        data::read_features(path, &self.metadata.target)
    }

    /// Predicts every row; columns are matched to the model's by name.
    pub fn predict(&self, data: &Dataset) -> Result<Predictions> {
        let ignored = [self.metadata.target.as_str()];
        let mut x = data.aligned_to(&self.metadata.features, &ignored)?;
        match &self.body.imputer {
            Some(imputer) => imputer.apply(&mut x),
            None => data.require_complete()?,
        }
        Ok(self.predict_matrix(&x))
    }

    /// Predicts rows already in the model's feature order, without
    /// missing values (or with the model's imputer applied).
    fn predict_matrix(&self, x: &Matrix) -> Predictions {
        let scores = self.body.estimator.scores(x);
        let class_index = (0..scores.rows()).map(|i| argmax(scores.row(i)) as u32).collect();
        Predictions { class_index, scores, has_proba: self.body.estimator.has_proba() }
    }

    /// Metrics of the model on a labelled dataset.
    pub fn evaluate(&self, data: &Dataset) -> Result<Metrics> {
        let target = data.require_target()?;
        let y = target.encode(&self.metadata.classes)?;
        let predictions = self.predict(data)?;
        let proba = predictions.has_proba.then_some(&predictions.scores);
        Ok(Metrics::compute(&y, &predictions.class_index, proba, &self.metadata.classes))
    }

    /// The class label of a predicted class index; panics on an index the
    /// model never predicts.
    pub fn label(&self, class_index: u32) -> &str {
        &self.metadata.classes[class_index as usize]
    }
}

impl Predictions {
    /// CSV with a `prediction` column of labels, with `proba` a
    /// `proba_<class>` column per class, and with `model_version` a column
    /// naming the model that made each prediction.
    pub fn to_csv(&self, model: &Model, proba: bool, model_version: Option<&str>) -> Vec<u8> {
        let mut header = vec!["prediction".to_owned()];
        let with_proba = proba && self.has_proba;
        if with_proba {
            header.extend(model.metadata.classes.iter().map(|c| format!("proba_{c}")));
        }
        if model_version.is_some() {
            header.push("model_version".into());
        }
        let rows = self.class_index.iter().enumerate().map(|(i, &c)| {
            let mut row = vec![model.label(c).to_owned()];
            if with_proba {
                row.extend(self.scores.row(i).iter().map(|p| p.to_string()));
            }
            if let Some(version) = model_version {
                row.push(version.to_owned());
            }
            row
        });
        data::to_csv(&header, rows)
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
