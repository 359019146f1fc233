//! The states MLflow spells as text: run statuses, lifecycle stages,
//! model version stages, logged model statuses and the audit trail's
//! kinds of event. Each enum holds its text in one place (`strum`), and
//! text that names none of its variants, from a request or from the
//! database, is an error rather than a silent default.

use std::str::FromStr;

use strum::{AsRefStr, EnumString, IntoStaticStr, VariantNames};

use crate::error::{Result, StoreError};

/// A run's status, MLflow's `RunStatus` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

/// Whether an experiment, run or logged model is live or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub(crate) enum Lifecycle {
    Active,
    Deleted,
}

/// A model version's stage, as MLflow spells it; requests may use any
/// letter case (`production`), as MLflow's `get_canonical_stage` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, IntoStaticStr, VariantNames)]
#[strum(ascii_case_insensitive)]
pub(crate) enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    /// Staging and Production: the stages `archive_existing_versions`
    /// empties.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, Stage::Staging | Stage::Production)
    }
}

/// A logged model's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, IntoStaticStr, VariantNames)]
pub(crate) enum LoggedModelStatus {
    #[strum(serialize = "LOGGED_MODEL_PENDING")]
    Pending,
    #[strum(serialize = "LOGGED_MODEL_READY")]
    Ready,
    #[strum(serialize = "LOGGED_MODEL_UPLOAD_FAILED")]
    UploadFailed,
}

/// What moved in an audit trail event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsRefStr, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub(crate) enum EventKind {
    /// A version entered or left a stage.
    Stage,
    /// An alias was set, moved or deleted.
    Alias,
}

pub(crate) fn run_not_found(run_id: &str) -> StoreError {
    StoreError::not_found(format!("Run with id={run_id} not found"))
}

/// Whether points, params or tags can be logged to `run_id`, whose
/// lifecycle stage is `stage` (`None`: there is no such run).
pub(crate) fn check_active_run(run_id: &str, stage: Option<&str>) -> Result<()> {
    match stage.map(|s| stored::<Lifecycle>("lifecycle stage", s)).transpose()? {
        None => Err(run_not_found(run_id)),
        Some(Lifecycle::Active) => Ok(()),
        Some(stage) => Err(StoreError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is {}.",
            stage.as_ref()
        ))),
    }
}

/// `text` as a `T` given in a request, or an error naming what it may be
/// (`what` says which field it was, in MLflow's words).
pub(crate) fn requested<T: FromStr + VariantNames>(what: &str, text: &str) -> Result<T> {
    text.parse().map_err(|_| {
        StoreError::invalid(format!("Invalid {what} '{text}'; expected one of {}", T::VARIANTS.join(", ")))
    })
}

/// `text` as a `T` read from the database: text the store never writes
/// is a broken row, not a default.
pub fn stored<T: FromStr + VariantNames>(what: &str, text: &str) -> Result<T> {
    text.parse().map_err(|_| StoreError::internal(format!("the database holds an unknown {what} '{text}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_mlflows_and_unknown_text_is_refused() {
        assert_eq!(RunStatus::Finished.as_ref(), "FINISHED");
        assert_eq!(Lifecycle::Deleted.as_ref(), "deleted");
        assert_eq!(LoggedModelStatus::Ready.as_ref(), "LOGGED_MODEL_READY");
        assert_eq!(EventKind::Alias.as_ref(), "alias");
        assert_eq!(requested::<Stage>("stage", "production").unwrap(), Stage::Production);
        assert_eq!(Stage::Production.as_ref(), "Production");
        assert_eq!(
            requested::<LoggedModelStatus>("status", "LOGGED_MODEL_UPLOAD_FAILED").unwrap(),
            LoggedModelStatus::UploadFailed
        );
        let refused = requested::<Lifecycle>("lifecycle stage", "gone").unwrap_err();
        assert_eq!(refused.message, "Invalid lifecycle stage 'gone'; expected one of active, deleted");
        assert_eq!(
            stored::<RunStatus>("run status", "DONE").unwrap_err().code,
            crate::ErrorCode::InternalError
        );
    }
}
