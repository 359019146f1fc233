//! What an operator can reach while it runs, and nothing more: the run's
//! template context, the tracking server (built on first use, so a task
//! that never talks to tracking never needs one), the notification
//! channels, what masks secrets in its output and, for the pipeline sensor, the pipeline database. The
//! task instance builds it; operators never see the project or the
//! pipeline file.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use retrain_registry::MlflowClient;

use super::OpError;
use crate::notify::Notifier;
use crate::redact::Redactor;
use crate::store::PipelineStore;
use crate::template::Context;

/// The environment of one task instance's operator.
pub struct Env {
    /// What the task's templates see: the pipeline, run id, `ds`, …
    pub context: Context,
    /// The start of the run's data interval.
    pub interval_start: DateTime<Utc>,
    task: String,
    notifier: Notifier,
    tracking_uri: Option<String>,
    tracking: OnceLock<Result<MlflowClient, String>>,
    state: Option<PipelineStore>,
    redactor: Redactor,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("instance", &self.instance_key()).finish_non_exhaustive()
    }
}

impl Env {
    /// The environment of task `task` in the run `context` describes.
    pub fn new(
        context: Context,
        interval_start: DateTime<Utc>,
        task: &str,
        notifier: Notifier,
        tracking_uri: Option<String>,
        state: Option<PipelineStore>,
        redactor: Redactor,
    ) -> Env {
        Env {
            context,
            interval_start,
            task: task.to_owned(),
            notifier,
            tracking_uri,
            tracking: OnceLock::new(),
            state,
            redactor,
        }
    }

    /// What masks secrets in what the task prints.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `pipeline/run_id/task`, unique per task instance.
    pub fn instance_key(&self) -> String {
        format!("{}/{}/{}", self.context.pipeline, self.context.run_id, self.task)
    }

    /// The notification channels of the project.
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The tracking server: `MLFLOW_TRACKING_URI`, else retrain.yaml's `tracking_uri`.
    pub fn tracking(&self) -> Result<&MlflowClient, OpError> {
        let store = self.tracking.get_or_init(|| {
            let uri = self.tracking_uri.as_deref().ok_or_else(|| {
                "no tracking server: set MLFLOW_TRACKING_URI (retrain up and retrain pipelines run set it for their tasks)".to_owned()
            })?;
            MlflowClient::new(uri).map_err(|e| e.to_string())
        });
        store.as_ref().map_err(|e| e.clone().into())
    }

    /// The pipeline database (runs and task instances of other pipelines).
    pub fn state(&self) -> Result<&PipelineStore, OpError> {
        self.state.as_ref().ok_or_else(|| "the pipeline database is not available".into())
    }
}
