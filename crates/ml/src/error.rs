//! One error type for the whole crate.
//!
//! Every variant a user can cause carries what they need to fix it: the
//! file, the line or key, and what was expected. [`Error::is_user_error`]
//! lets a front end tell bad input (exit code 2) from a failure of the
//! system (exit code 1) without matching on messages.

use std::path::{Path, PathBuf};

/// The crate's result: [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the ML core; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CSV file that cannot be used as it is.
    #[error("{path}: {message}", path = .path.display())]
    Csv {
        /// The file, or `request` for data sent to the scoring endpoint.
        path: PathBuf,
        /// Where in the file (line, column) and what is wrong.
        message: String,
    },

    /// A classifier config that is malformed or asks for something invalid.
    #[error("{path}: {message}", path = .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// The offending key and what is allowed.
        message: String,
    },

    /// A model directory that is missing, corrupted, truncated or foreign.
    #[error("{path}: {message}", path = .path.display())]
    Model {
        /// The model directory, or the file inside it that is at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// Input that does not fit what it is used with (e.g. columns that do
    /// not match the model, a split that leaves a class empty).
    #[error("{0}")]
    Invalid(String),

    /// Reading a file the user named failed.
    #[error("{path}: {source}", path = .path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// Why the operating system refused.
        source: std::io::Error,
    },

    /// Writing an output failed.
    #[error("cannot write {path}: {source}", path = .path.display())]
    Write {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// Why the operating system refused.
        source: std::io::Error,
    },
}

impl Error {
    /// True when the error comes from what the user supplied rather than
    /// from the machine (a full disk, a permission problem on output).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Write { .. })
    }

    pub(crate) fn csv(path: &Path, message: impl Into<String>) -> Self {
        Error::Csv { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn config(path: &Path, message: impl Into<String>) -> Self {
        Error::Config { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn model(path: &Path, message: impl Into<String>) -> Self {
        Error::Model { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        Error::Read { path: path.to_path_buf(), source }
    }

    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        Error::Write { path: path.to_path_buf(), source }
    }
}

/// An error and every cause under it on one line (`error: cause: cause of
/// the cause`), for logs and messages that must show why, not only what.
/// Every crate of the workspace formats chains with this one function.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
