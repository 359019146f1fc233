//! MLflow's error codes and the one table that maps them to HTTP statuses.
//!
//! Clients of the MLflow REST API branch on `error_code` (the Python
//! client's `register_model` expects `RESOURCE_ALREADY_EXISTS` before it
//! creates version 2), so every failure of the store carries one.

use serde::Serialize;

/// MLflow's error codes (`databricks.ErrorCode`), the ones its REST API answers
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request is wrong: a missing or malformed field, a value out of range
    /// (HTTP 400).
    InvalidParameterValue,
    /// What the request names does not exist (HTTP 404).
    ResourceDoesNotExist,
    /// What the request would create exists already (HTTP 400).
    ResourceAlreadyExists,
    /// The request does not fit the resource's state (HTTP 400).
    InvalidState,
    /// No such endpoint (HTTP 404).
    EndpointNotFound,
    /// The request has no credentials, or wrong ones (HTTP 401).
    Unauthenticated,
    /// The caller's role may not do this (HTTP 403).
    PermissionDenied,
    /// Too many failed sign-ins lately; try again later (HTTP 429).
    ResourceExhausted,
    /// Anything else: the database, a server out of reach, a bug (HTTP 500).
    InternalError,
}

/// `(code, name on the wire, HTTP status)`, as MLflow answers them;
/// `INTERNAL_ERROR` last.
const TABLE: [(ErrorCode, &str, u16); 9] = [
    (ErrorCode::InvalidParameterValue, "INVALID_PARAMETER_VALUE", 400),
    (ErrorCode::ResourceDoesNotExist, "RESOURCE_DOES_NOT_EXIST", 404),
    (ErrorCode::ResourceAlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (ErrorCode::InvalidState, "INVALID_STATE", 400),
    (ErrorCode::EndpointNotFound, "ENDPOINT_NOT_FOUND", 404),
    (ErrorCode::Unauthenticated, "UNAUTHENTICATED", 401),
    (ErrorCode::PermissionDenied, "PERMISSION_DENIED", 403),
    (ErrorCode::ResourceExhausted, "RESOURCE_EXHAUSTED", 429),
    (ErrorCode::InternalError, "INTERNAL_ERROR", 500),
];

impl ErrorCode {
    fn row(self) -> (ErrorCode, &'static str, u16) {
        // Every variant has a row; the table is checked by a test.
        TABLE.iter().copied().find(|r| r.0 == self).unwrap_or(TABLE[TABLE.len() - 1])
    }

    /// The code as MLflow spells it on the wire (`RESOURCE_DOES_NOT_EXIST`).
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The HTTP status MLflow answers the code with.
    pub fn http_status(self) -> u16 {
        self.row().2
    }

    /// The code named `name` on the wire, if it is one we know.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        TABLE.iter().find(|r| r.1 == name).map(|r| r.0)
    }
}

/// A failed store operation: an MLflow error code and a message for people.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct StoreError {
    /// Which MLflow error it is.
    pub code: ErrorCode,
    /// What went wrong, for people; MLflow's wording where clients match on it.
    pub message: String,
}

/// A store result: [`StoreError`] unless said otherwise.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError { code, message: message.into() }
    }

    /// An `INVALID_PARAMETER_VALUE` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    /// A `RESOURCE_DOES_NOT_EXIST` error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }

    pub(crate) fn exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }

    /// An `INTERNAL_ERROR` error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::exists(db.message().to_owned());
            }
            // PostgreSQL's data exceptions (SQLSTATE class 22) are the
            // value's fault: a NUL character in text, a number out of
            // range. SQLite's codes are numbers of at most four digits.
            if db.code().is_some_and(|code| code.len() == 5 && code.starts_with("22")) {
                return StoreError::invalid(db.message().to_owned());
            }
        }
        StoreError::internal(format!("database: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_mlflow_status() {
        for (code, name, status) in TABLE {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.http_status(), status);
            assert_eq!(ErrorCode::from_name(name), Some(code));
            assert_eq!(serde_json::to_value(code).unwrap(), name);
        }
        assert_eq!(ErrorCode::ResourceAlreadyExists.http_status(), 400);
        assert_eq!(ErrorCode::ResourceDoesNotExist.http_status(), 404);
    }
}
