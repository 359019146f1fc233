//! What a task does: the built-in ML steps, `shell`, `notify`, `gate` and
//! the sensors. Each kind has its own argument struct (unknown keys
//! rejected) so a pipeline is checked before it runs; at run time the
//! arguments are rendered (templates) and parsed again, then executed
//! inside the task instance's process.

mod env;
mod ml;
mod models;
mod sensors;
mod shell;

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use env::Env;
pub use models::open_model;

pub use crate::protocol::Outcome;

/// Why a task's arguments are wrong: the argument (when one is to blame)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgsError {
    /// The argument to blame, when one is (lets a pipeline error point at its
    /// line).
    pub field: Option<String>,
    /// What is wrong, as the user reads it.
    pub message: String,
}

/// A task failed; the message is what the log and the alert show.
pub type OpError = Box<dyn std::error::Error + Send + Sync>;

/// The kinds of task, as written in a pipeline (`op: train`, `sensor: file`, `gate`).
pub const OPS: [&str; 12] = [
    "generate",
    "prepare",
    "split",
    "train",
    "evaluate",
    "register",
    "promote",
    "promote_best",
    "train_configs",
    "predict",
    "shell",
    "notify",
];
/// The sensors, as written in a pipeline (`sensor: file`).
pub const SENSORS: [&str; 4] = ["file", "model", "pipeline", "inbox"];

/// A task's parsed arguments.
#[derive(Debug, Clone)]
pub enum Action {
    /// `op: generate`: writes a built-in data set, or the synthetic one for the
    /// run's day.
    Generate(ml::Generate),
    /// `op: prepare`: joins data and target into one labelled CSV.
    Prepare(ml::Prepare),
    /// `op: split`: a stratified split into train, validation (and test) CSVs.
    Split(ml::Split),
    /// `op: train`: trains a classifier from a config.
    Train(ml::Train),
    /// `op: evaluate`: measures a model (a directory or a registry URI) on
    /// labelled data.
    Evaluate(ml::Evaluate),
    /// `op: predict`: batch predictions with a model directory or a registry
    /// URI.
    Predict(ml::Predict),
    /// `op: train_configs`: trains and registers every config in an inbox
    /// folder.
    TrainConfigs(ml::TrainConfigs),
    /// `op: register`: logs a model directory as a tracking run and registers
    /// it as a new version.
    Register(models::Register),
    /// `op: promote`: moves an alias (and stage) to a version when it beats the
    /// current holder.
    Promote(models::Promote),
    /// `op: promote_best`: scores every version on one data set and moves the
    /// alias to the best.
    PromoteBest(models::PromoteBest),
    /// `op: shell`: runs a command.
    Shell(shell::Shell),
    /// `op: notify`: sends a message to notification channels.
    Notify(shell::Notify),
    /// `gate: CONDITION`: skips everything downstream when the condition is
    /// false.
    Gate(shell::Gate),
    /// `sensor: file`: waits for a file, or for a glob to match enough files.
    FileSensor(sensors::FileSensor),
    /// `sensor: model`: waits for a registered model to have a version at an
    /// alias or in a stage.
    ModelSensor(sensors::ModelSensor),
    /// `sensor: pipeline`: waits for another pipeline's run (or task) of the
    /// same interval to succeed.
    PipelineSensor(sensors::PipelineSensor),
    /// `sensor: inbox`: waits for files in a folder matching its patterns.
    InboxSensor(sensors::InboxSensor),
}

fn args<T: DeserializeOwned>(args: &Map<String, Value>) -> Result<T, ArgsError> {
    let value = Value::Object(args.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field =
            unknown_field(&inner).or_else(|| path.split('.').next().filter(|p| *p != "?").map(str::to_owned));
        let message = if path == "." || path == "?" { inner } else { format!("{path}: {inner}") };
        ArgsError { field, message }
    })
}

/// The key serde names in "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

impl Action {
    /// Parses a task's arguments for its kind (`op:NAME`, `sensor:NAME` or `gate`).
    pub fn parse(kind: &str, raw: &Map<String, Value>) -> Result<Action, ArgsError> {
        let unknown = |family: &str, name: &str, known: &[&str]| ArgsError {
            field: Some(family.to_owned()),
            message: format!("unknown {family} '{name}'; known: {}", known.join(", ")),
        };
        Ok(match kind.split_once(':').unwrap_or((kind, "")) {
            ("gate", _) => Action::Gate(args(raw)?),
            ("op", "generate") => Action::Generate(args(raw)?),
            ("op", "prepare") => Action::Prepare(args(raw)?),
            ("op", "split") => Action::Split(args(raw)?),
            ("op", "train") => Action::Train(args(raw)?),
            ("op", "evaluate") => Action::Evaluate(args(raw)?),
            ("op", "predict") => Action::Predict(args(raw)?),
            ("op", "train_configs") => Action::TrainConfigs(args(raw)?),
            ("op", "register") => Action::Register(args(raw)?),
            ("op", "promote") => Action::Promote(args(raw)?),
            ("op", "promote_best") => Action::PromoteBest(args(raw)?),
            ("op", "shell") => Action::Shell(args(raw)?),
            ("op", "notify") => Action::Notify(args(raw)?),
            ("op", name) => return Err(unknown("op", name, &OPS)),
            ("sensor", "file") => Action::FileSensor(args(raw)?),
            ("sensor", "model") => Action::ModelSensor(args(raw)?),
            ("sensor", "pipeline") => Action::PipelineSensor(args(raw)?),
            ("sensor", "inbox") => Action::InboxSensor(args(raw)?),
            ("sensor", name) => return Err(unknown("sensor", name, &SENSORS)),
            (other, _) => {
                return Err(ArgsError { field: None, message: format!("unknown task kind '{other}'") });
            }
        })
    }

    /// Files the task reads that must exist before any run (classifier
    /// configs), when their path has no template in it.
    pub fn required_files(&self) -> Vec<&str> {
        match self {
            Action::Train(t) => vec![t.config.as_str()],
            _ => Vec::new(),
        }
        .into_iter()
        .filter(|p| !p.contains("{{"))
        .collect()
    }

    /// Notification channels the task sends to.
    pub fn channels(&self) -> Vec<&str> {
        match self {
            Action::Notify(n) => n.channels(),
            _ => Vec::new(),
        }
    }

    /// Runs the task in this process.
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        match self {
            Action::Generate(a) => a.run(env),
            Action::Prepare(a) => a.run(),
            Action::Split(a) => a.run(),
            Action::Train(a) => a.run(),
            Action::Evaluate(a) => a.run(),
            Action::Predict(a) => a.run(env).await,
            Action::TrainConfigs(a) => a.run(env).await,
            Action::Register(a) => a.run(env).await,
            Action::Promote(a) => a.run(env).await,
            Action::PromoteBest(a) => a.run(env).await,
            Action::Shell(a) => a.run(env).await,
            Action::Notify(a) => a.run(env).await,
            Action::Gate(a) => a.run(env),
            Action::FileSensor(a) => a.poke(),
            Action::ModelSensor(a) => a.poke(env).await,
            Action::PipelineSensor(a) => a.poke(env).await,
            Action::InboxSensor(a) => a.poke(),
        }
    }
}

/// A path for messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
