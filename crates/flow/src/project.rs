//! A project directory: `retrain.yaml` (where metadata and artifacts live,
//! how many tasks run at once, notification channels), `pipelines/*.yaml`,
//! `configs/`, and the data, logs and models the pipelines write. Paths in
//! the config and in pipelines are relative to the project directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::notify::{Channel, Notifier};
use crate::ops::Action;
use crate::pipeline::{self, Pipeline, PipelineError};
use crate::runs::Bootstrap;

/// The project's config file, at the top of the project directory; its presence
/// is what makes a directory a project.
pub const CONFIG_FILE: &str = "retrain.yaml";

/// Where a project keeps what retrain writes for itself, relative to the
/// project directory: the defaults of retrain.yaml and of the commands
/// that work in a directory, defined once.
pub mod paths {
    /// The metadata database (runs, registry, pipeline state).
    pub const DATABASE_URI: &str = "sqlite:///.retrain/retrain.db";
    /// Artifacts stored by the tracking server.
    pub const ARTIFACTS: &str = ".retrain/artifacts";
    /// Registered models downloaded for predicting and serving, one
    /// directory per version (`models/NAME/VERSION`).
    pub const MODEL_CACHE: &str = ".retrain/cache";
    /// The first admin's generated password (mode 0600), kept so that a
    /// restart can say where it is; never rewritten once the admin exists.
    pub const ADMIN_PASSWORD: &str = ".retrain/admin_password";
    /// The key secret variables are encrypted with (mode 0600), unless
    /// `RETRAIN_SECRET_KEY` gives one; generated when first needed.
    pub const SECRET_KEY: &str = ".retrain/secret_key";
    /// Pipeline files.
    pub const PIPELINES: &str = "pipelines";
    /// Task logs (`PIPELINE/RUN/TASK/TRY.log`).
    pub const LOGS: &str = "logs";
    /// What a `log` notification channel appends to unless it names a file.
    pub const NOTIFICATIONS_LOG: &str = "logs/notifications.log";
}

/// `retrain.yaml`: where the metadata and artifacts live, how many tasks run at
/// once, notification channels; every key has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Metadata store (runs, registry, pipeline state).
    #[serde(default = "default_backend")]
    pub backend_store_uri: String,
    /// Where the tracking server keeps artifacts: a directory or `s3://bucket/prefix`.
    #[serde(default = "default_artifacts")]
    pub artifacts_destination: String,
    /// The tracking server tasks talk to; `retrain up` and `retrain
    /// pipelines run` use their own when this and `MLFLOW_TRACKING_URI`
    /// are unset.
    pub tracking_uri: Option<String>,
    /// Task instances running at once, over all pipelines.
    #[serde(default = "default_parallelism")]
    pub parallelism: usize,
    /// Where pipeline files are read from (`pipelines`).
    #[serde(default = "default_pipelines")]
    pub pipelines_dir: PathBuf,
    /// Where task logs are written (`logs`).
    #[serde(default = "default_logs")]
    pub logs_dir: PathBuf,
    /// Notification channels by the name pipelines use in `on_failure`,
    /// `on_success` and `notify` tasks.
    #[serde(default)]
    pub notifications: BTreeMap<String, Channel>,
    /// What the first `retrain up` backfills, if anything.
    #[serde(default)]
    pub bootstrap: Option<Bootstrap>,
}

fn default_backend() -> String {
    paths::DATABASE_URI.into()
}
fn default_artifacts() -> String {
    paths::ARTIFACTS.into()
}
fn default_parallelism() -> usize {
    4
}
fn default_pipelines() -> PathBuf {
    paths::PIPELINES.into()
}
fn default_logs() -> PathBuf {
    paths::LOGS.into()
}

/// Why a project, or a pipeline in it, cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The directory has no retrain.yaml.
    #[error("{} has no {CONFIG_FILE}; run `retrain init` there first (or `retrain up`, which does)", .0.display())]
    NotAProject(PathBuf),
    /// retrain.yaml cannot be read, is not valid YAML or has a value out of
    /// range.
    #[error("{path}: {message}", path = .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with the line when YAML tells one.
        message: String,
    },
    /// A pipeline file has mistakes.
    #[error(transparent)]
    Spec(#[from] PipelineError),
    /// No pipeline that loads has this name.
    #[error("no pipeline named '{name}' in {dir}; known: {known}", dir = .dir.display())]
    UnknownPipeline {
        /// The name asked for.
        name: String,
        /// The pipelines directory, as retrain.yaml names it.
        dir: PathBuf,
        /// The pipelines that do load, comma-separated.
        known: String,
    },
    /// `retrain init` could not write a scaffold file.
    #[error("cannot write {path}: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why it could not be written.
        source: std::io::Error,
    },
}

/// An opened project: its directory, its config, and the notifier built from
/// the config's channels.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory; relative paths in the config and in pipelines
    /// start here.
    pub root: PathBuf,
    /// retrain.yaml as read.
    pub config: ProjectConfig,
    notifier: Notifier,
}

impl Project {
    /// Opens the project in `root` (which must hold retrain.yaml).
    pub fn open(root: &Path) -> Result<Project, ProjectError> {
        let path = root.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProjectError::NotAProject(root.to_path_buf()));
            }
            Err(e) => return Err(ProjectError::Config { path, message: e.to_string() }),
        };
        let config: ProjectConfig = serde_saphyr::from_str(&text).map_err(|e| {
            let (line, message) = pipeline::yaml_error(&e);
            let message = match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            };
            ProjectError::Config { path: path.clone(), message }
        })?;
        if config.parallelism == 0 {
            return Err(ProjectError::Config { path, message: "parallelism must be at least 1".into() });
        }
        let notifier = Notifier::new(config.notifications.clone(), root.to_path_buf());
        Ok(Project { root: root.to_path_buf(), config, notifier })
    }

    /// The tracking server the user named: `MLFLOW_TRACKING_URI`, else
    /// retrain.yaml's `tracking_uri`.
    pub fn tracking_uri(&self) -> Option<String> {
        std::env::var("MLFLOW_TRACKING_URI")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| self.config.tracking_uri.clone())
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub(crate) fn pipelines_dir(&self) -> PathBuf {
        self.root.join(&self.config.pipelines_dir)
    }

    /// The directory task logs are written under, absolute when `root` is.
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join(&self.config.logs_dir)
    }

    /// The pipeline files, sorted.
    pub fn pipeline_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.pipelines_dir())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Every pipeline that loads, and the errors of those that do not
    /// (including what only the project can tell: duplicate names,
    /// unknown notification channels, missing config files).
    pub fn load_pipelines(&self) -> (Vec<Pipeline>, Vec<PipelineError>) {
        let mut pipelines: Vec<Pipeline> = Vec::new();
        let mut errors = Vec::new();
        for file in self.pipeline_files() {
            match self.load_file(&file) {
                Ok(p) => match pipelines.iter().find(|other| other.name == p.name) {
                    Some(other) => errors.push(PipelineError::single(
                        &p.file,
                        None,
                        format!("pipeline name '{}' is already used by {}", p.name, other.file.display()),
                    )),
                    None => pipelines.push(p),
                },
                Err(e) => errors.push(e),
            }
        }
        (pipelines, errors)
    }

    /// One pipeline file, checked against the project.
    fn load_file(&self, file: &Path) -> Result<Pipeline, PipelineError> {
        let shown = file.strip_prefix(&self.root).unwrap_or(file).to_path_buf();
        let text = std::fs::read_to_string(file)
            .map_err(|e| PipelineError::single(&shown, None, format!("cannot read: {e}")))?;
        let mut checked = pipeline::check(&text, &shown)?;
        self.check_references(&mut checked);
        checked.finish()
    }

    /// One pipeline by name. `pipelines/NAME.yaml` (or `.yml`) is read
    /// first, so a task instance parses one file, not the whole folder;
    /// other file names are found by reading every file.
    pub fn pipeline(&self, name: &str) -> Result<Pipeline, ProjectError> {
        for extension in ["yaml", "yml"] {
            let file = self.pipelines_dir().join(format!("{name}.{extension}"));
            if file.is_file() {
                let pipeline = self.load_file(&file)?;
                if pipeline.name == name {
                    return Ok(pipeline);
                }
            }
        }
        let (pipelines, _) = self.load_pipelines();
        let known: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
        let known = known.join(", ");
        pipelines.into_iter().find(|p| p.name == name).ok_or_else(|| ProjectError::UnknownPipeline {
            name: name.into(),
            dir: self.config.pipelines_dir.clone(),
            known,
        })
    }

    /// The channels and config files the pipeline names exist.
    fn check_references(&self, checked: &mut pipeline::Checked) {
        let mut faults = Vec::new();
        let pipeline = &checked.pipeline;
        for channel in pipeline.on_failure.iter().chain(&pipeline.on_success) {
            if !self.notifier.has_channel(channel) {
                faults.push((None, self.unknown_channel(channel)));
            }
        }
        for task in pipeline.tasks.values() {
            // A task whose arguments are wrong has been reported already.
            let Ok(action) = Action::parse(&task.kind, &task.args) else { continue };
            for channel in action.channels() {
                if !channel.contains("{{") && !self.notifier.has_channel(channel) {
                    let message = format!("task '{}': {}", task.name, self.unknown_channel(channel));
                    faults.push((Some(task.line), message));
                }
            }
            for file in action.required_files() {
                if !self.root.join(file).is_file() {
                    let message = format!("task '{}': config file '{file}' does not exist", task.name);
                    faults.push((Some(task.line), message));
                }
            }
        }
        for (line, message) in faults {
            checked.add(line, message);
        }
    }

    fn unknown_channel(&self, name: &str) -> String {
        format!(
            "notification channel '{name}' is not defined in {CONFIG_FILE} (defined: {})",
            self.notifier.channel_names().join(", ")
        )
    }
}

/// The files `retrain init` writes: the shipped pipelines, classifier
/// configs and retrain.yaml, as in this repository.
const SCAFFOLD: [(&str, &str); 15] = [
    ("retrain.yaml", include_str!("../scaffold/retrain.yaml")),
    ("pipelines/generate_data.yaml", include_str!("../scaffold/pipelines/generate_data.yaml")),
    ("pipelines/train.yaml", include_str!("../scaffold/pipelines/train.yaml")),
    ("pipelines/predict.yaml", include_str!("../scaffold/pipelines/predict.yaml")),
    ("pipelines/retrain_iris.yaml", include_str!("../scaffold/pipelines/retrain_iris.yaml")),
    ("pipelines/train_from_configs.yaml", include_str!("../scaffold/pipelines/train_from_configs.yaml")),
    ("pipelines/promote_best.yaml", include_str!("../scaffold/pipelines/promote_best.yaml")),
    ("configs/random_forest.yaml", include_str!("../scaffold/configs/random_forest.yaml")),
    ("configs/decision_tree.yaml", include_str!("../scaffold/configs/decision_tree.yaml")),
    ("configs/gradient_boosting.yaml", include_str!("../scaffold/configs/gradient_boosting.yaml")),
    ("configs/knn.yaml", include_str!("../scaffold/configs/knn.yaml")),
    ("configs/gaussian_nb.yaml", include_str!("../scaffold/configs/gaussian_nb.yaml")),
    ("configs/linear_svm.yaml", include_str!("../scaffold/configs/linear_svm.yaml")),
    ("configs/logistic_regression.json", include_str!("../scaffold/configs/logistic_regression.json")),
    ("configs/inbox/README.md", include_str!("../scaffold/configs/inbox/README.md")),
];

/// Writes the scaffold into `dir`, never overwriting a file; returns the
/// files written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, ProjectError> {
    let mut written = Vec::new();
    for (relative, content) in SCAFFOLD {
        let path = dir.join(relative);
        if path.exists() {
            continue;
        }
        retrain_ml::atomic::write_file(&path, content.as_bytes()).map_err(|e| ProjectError::Write {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        written.push(PathBuf::from(relative));
    }
    Ok(written)
}
