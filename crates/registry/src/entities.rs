//! The tracking entities in the JSON shape of MLflow's REST API: what the
//! server answers and what the REST client reads. IDs are strings and
//! times are epoch milliseconds, as on the wire.

use serde::{Deserialize, Serialize};

/// A key-value tag of an experiment, run, logged model, registered model or
/// version (MLflow's `*Tag` messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag's key, at most 250 characters.
    pub key: String,
    /// The tag's value; empty when the request left it out.
    #[serde(default)]
    pub value: String,
}

/// A run's parameter: set once, never changed (MLflow's `Param`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The parameter's name.
    pub key: String,
    /// Its value, as text.
    pub value: String,
}

/// One point of a metric (MLflow's `Metric`): a run logs many per key, by step
/// and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric's name.
    pub key: String,
    /// The value; NaN and ±infinity travel as proto3 JSON spells them (see
    /// [`proto_float`]).
    #[serde(with = "proto_float")]
    pub value: f64,
    /// When the value was measured, in ms since the epoch.
    pub timestamp: i64,
    /// The training step the value belongs to, 0 when not given.
    #[serde(default)]
    pub step: i64,
}

/// An experiment: a named group of runs (MLflow's `Experiment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// The experiment's id, a decimal number as text (`0` is `Default`).
    pub experiment_id: String,
    /// The experiment's name, unique among all experiments, deleted ones
    /// included.
    pub name: String,
    /// Where its runs' artifacts go (`mlflow-artifacts:/1`, a directory,
    /// `s3://…`).
    pub artifact_location: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// When the experiment was created, in ms since the epoch.
    pub creation_time: i64,
    /// When it was last renamed, deleted or restored, in ms since the epoch.
    pub last_update_time: i64,
    /// The experiment's tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// What a run is, apart from what it logged (MLflow's `RunInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's id: 32 lowercase hex digits.
    pub run_id: String,
    /// The same id under the name MLflow deprecated but still sends.
    pub run_uuid: String,
    /// The experiment the run belongs to.
    pub experiment_id: String,
    /// The run's name, `run-` and the id's first 8 digits when none was given.
    pub run_name: String,
    /// Who started the run, as the client said.
    pub user_id: String,
    /// `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED` (MLflow's
    /// `RunStatus`).
    pub status: String,
    /// When the run started, in ms since the epoch.
    pub start_time: i64,
    /// When the run ended, in ms since the epoch; `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Where the run's artifacts are: `{artifact_location}/{run_id}/artifacts`.
    pub artifact_uri: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
}

/// What a run logged (MLflow's `RunData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// The latest point of each metric.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// The run's parameters.
    #[serde(default)]
    pub params: Vec<Param>,
    /// The run's tags, `mlflow.*` system tags included.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A data set a run used, with the tags saying how (MLflow's `DatasetInput`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// Tags on the use, such as `mlflow.data.context` (`training`, `eval`).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The data set as the client described it (name, digest, source, schema),
    /// kept as given.
    pub dataset: serde_json::Value,
}

/// What a run took in (MLflow's `RunInputs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInputs {
    /// The data sets the run used; left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<DatasetInput>,
}

/// A run as MLflow's REST API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// What the run is.
    pub info: RunInfo,
    /// What it logged.
    pub data: RunData,
    /// What it took in.
    #[serde(default)]
    pub inputs: RunInputs,
}

/// Which runs or experiments a search sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViewType {
    /// Live ones only (the default).
    #[default]
    ActiveOnly,
    /// Deleted ones only.
    DeletedOnly,
    /// Live and deleted alike.
    All,
}

/// Doubles as proto3 JSON writes them: numbers, or `"NaN"`, `"Infinity"`
/// and `"-Infinity"` (plain JSON has no way to say those).
pub mod proto_float {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    /// Writes a number, or `"NaN"`, `"Infinity"` or `"-Infinity"`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v.is_infinite() {
            s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            s.serialize_f64(*v)
        }
    }

    /// Reads a number, one of those three strings, or a number written as a
    /// string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                other => other.trim().parse().ok(),
            },
            _ => None,
        }
        .ok_or_else(|| serde::de::Error::custom(format!("expected a number, got {v}")))
    }
}

/// What a logged model is, apart from its params and metrics (MLflow 3's
/// `LoggedModelInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelInfo {
    /// The model's id, `m-` and 32 hex digits.
    pub model_id: String,
    /// The experiment it was logged to.
    pub experiment_id: String,
    /// The model's name, as `log_model` was given it.
    pub name: String,
    /// Where its files are: `{artifact_location}/models/{model_id}/artifacts`.
    pub artifact_uri: String,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY` or
    /// `LOGGED_MODEL_UPLOAD_FAILED`.
    pub status: String,
    /// The run that logged it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    /// A free-form kind the client gave (`agent`, …), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// When the model was created, in ms since the epoch.
    pub creation_timestamp_ms: i64,
    /// When its status last changed (or it was created), in ms since the
    /// epoch.
    pub last_updated_timestamp_ms: i64,
    /// The model's tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// What a logged model recorded (MLflow 3's `LoggedModelData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelData {
    /// Its parameters.
    #[serde(default)]
    pub params: Vec<Param>,
    /// Its metrics; always empty here, as the store keeps none for logged
    /// models.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

/// An MLflow 3 logged model: what `log_model` creates before any registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// What the model is.
    pub info: LoggedModelInfo,
    /// What it recorded.
    pub data: LoggedModelData,
}

/// An alias of a registered model and the version it points at (MLflow's
/// `RegisteredModelAlias`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// The alias (`champion`); `latest` and version-like names (`v3`) are
    /// refused.
    pub alias: String,
    /// The version number, as text.
    pub version: String,
}

/// One version of a registered model (MLflow's `ModelVersion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// The version number as text, counting from 1 per model.
    pub version: String,
    /// When the version was created, in ms since the epoch.
    pub creation_timestamp: i64,
    /// When its stage or description last changed, in ms since the epoch.
    pub last_updated_timestamp: i64,
    /// Who created the version; empty when unknown.
    #[serde(default)]
    pub user_id: String,
    /// `None`, `Staging`, `Production` or `Archived`.
    pub current_stage: String,
    /// The version's description; empty when there is none.
    #[serde(default)]
    pub description: String,
    /// Where the model's files are (a `runs:/`, `models:/` or artifact URI).
    pub source: String,
    /// The run that produced it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `READY` here: versions are usable once created (MLflow's
    /// `ModelVersionStatus`).
    pub status: String,
    /// A link to the run elsewhere (another tracking server's UI), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    /// The version's tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The aliases pointing at this version.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The logged model it was registered from (MLflow 3), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// A registered model: a name whose versions the registry tracks (MLflow's
/// `RegisteredModel`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// The model's name, unique in the registry.
    pub name: String,
    /// When the model was registered, in ms since the epoch.
    pub creation_timestamp: i64,
    /// When its description last changed or a version was last added, in ms
    /// since the epoch.
    pub last_updated_timestamp: i64,
    /// The model's description; empty when there is none.
    #[serde(default)]
    pub description: String,
    /// The newest version in each stage.
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    /// The model's tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The model's aliases, each with its version.
    #[serde(default)]
    pub aliases: Vec<Alias>,
}

/// One change in the registry's audit trail: a stage or an alias moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryEvent {
    /// Epoch milliseconds.
    pub at: i64,
    /// The registered model.
    pub name: String,
    /// "stage" or "alias".
    pub kind: String,
    /// The stage (for a stage event, the stage entered or left) or the alias.
    pub subject: String,
    /// The version that held the stage or alias before, `None` when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// The version that holds it after, `None` when it was left or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
    /// Who made the change: the REST client's `RETRAIN_ACTOR` (a task instance
    /// is `pipeline:P/RUN/TASK`) or a user.
    pub actor: String,
    /// Why, as the caller said (`promoted`, `version deleted`); empty when no
    /// reason was given.
    pub reason: String,
}
