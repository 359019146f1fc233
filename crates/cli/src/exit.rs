//! The process's exit code, decided in one place from the error a command
//! returns: 2 when the user can fix what they gave (a flag, a file, a
//! name), 1 when the system failed, and a command's own code when it
//! chose one (a skipped task instance exits 99, as Airflow's does).

use retrain_registry::{ErrorCode, StoreError};

/// A mistake in how a command was called that clap cannot see (e.g. two
/// options that contradict each other); exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// Ends the command with a given exit code and message.
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub(crate) struct Exit(pub u8, pub String);

/// The exit code for `err`: an [`Exit`]'s own, else 2 if any error in the
/// chain is one the user caused, else 1.
pub(crate) fn code(err: &anyhow::Error) -> u8 {
    if let Some(Exit(code, _)) = err.downcast_ref::<Exit>() {
        return *code;
    }
    if err.chain().any(is_user_error) { 2 } else { 1 }
}

/// Whether `cause` is something the user can fix. Every error type a
/// command can return that may be the user's is listed here.
fn is_user_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    use retrain_flow::{pipeline, project, runs, secrets::SecretError, task};
    let store_user_error = |e: &StoreError| e.code != ErrorCode::InternalError;
    let secret_user_error = |e: &SecretError| !matches!(e, SecretError::Io { .. });
    cause.downcast_ref::<retrain_ml::Error>().is_some_and(retrain_ml::Error::is_user_error)
        || cause.downcast_ref::<UsageError>().is_some()
        || cause.downcast_ref::<project::ProjectError>().is_some()
        || cause.downcast_ref::<pipeline::PipelineError>().is_some()
        || cause.downcast_ref::<pipeline::BadDate>().is_some()
        || cause.downcast_ref::<runs::BackfillError>().is_some()
        || cause.downcast_ref::<task::InvocationError>().is_some_and(|e| match e {
            task::InvocationError::Store(store) => store_user_error(store),
            task::InvocationError::Secret(secret) => secret_user_error(secret),
            _ => true,
        })
        || cause.downcast_ref::<SecretError>().is_some_and(secret_user_error)
        || cause.downcast_ref::<StoreError>().is_some_and(store_user_error)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use retrain_flow::pipeline::{BadDate, PipelineError};
    use retrain_flow::project::ProjectError;
    use retrain_flow::runs::BackfillError;
    use retrain_flow::secrets::SecretError;
    use retrain_flow::task::InvocationError;

    use super::*;

    #[test]
    fn every_error_type_has_its_exit_code() {
        let io = || std::io::Error::other("disk on fire");
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (Exit(99, "skipped".into()).into(), 99),
            (Exit(100, "not yet".into()).into(), 100),
            (UsageError("--to is before --from".into()).into(), 2),
            (retrain_ml::Error::Invalid("unknown dataset".into()).into(), 2),
            (retrain_ml::Error::Write { path: PathBuf::from("m"), source: io() }.into(), 1),
            (retrain_ml::Error::Read { path: PathBuf::from("data.csv"), source: io() }.into(), 2),
            (ProjectError::NotAProject(PathBuf::from("/x")).into(), 2),
            (PipelineError::single(&PathBuf::from("p.yaml"), Some(3), "unknown op").into(), 2),
            (BadDate("yesterday".into()).into(), 2),
            (BackfillError::Reversed { from: "b".into(), to: "a".into() }.into(), 2),
            (InvocationError::Invalid("--ds: bad".into()).into(), 2),
            (InvocationError::Store(StoreError::not_found("no run")).into(), 2),
            (InvocationError::Store(StoreError::internal("database gone")).into(), 1),
            (StoreError::invalid("bad filter").into(), 2),
            (SecretError::MalformedEnvKey.into(), 2),
            (InvocationError::Secret(SecretError::MalformedKeyFile(PathBuf::from("k"))).into(), 2),
            (SecretError::Io { action: "read", path: PathBuf::from("k"), source: io() }.into(), 1),
            (StoreError::internal("database gone").into(), 1),
            (anyhow::Error::from(io()), 1),
            // A user's mistake under context added on the way up is still theirs.
            (anyhow::Error::from(StoreError::not_found("no model")).context("cannot serve"), 2),
        ];
        for (err, expected) in cases {
            assert_eq!(code(&err), expected, "{err:#}");
        }
    }
}
