//! MLflow's error shape, `{"error_code": "...", "message": "..."}`, written
//! in one place: the REST API's handlers answer it through [`ApiError`],
//! and model serving answers its own codes through [`error_response`].

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use retrain_registry::{ErrorCode, StoreError};
use serde_json::json;

/// An answer in MLflow's error shape: `status`, the wire name of the error
/// code, and a message for people.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error_code": code, "message": message}))).into_response()
}

/// An error answered in MLflow's shape with the status its code maps to.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StoreError);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// `INVALID_PARAMETER_VALUE` (400) with `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ApiError(StoreError::invalid(message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.0.code == ErrorCode::InternalError {
            tracing::error!(message = %self.0.message, "internal error");
        }
        error_response(status, self.0.code.as_str(), &self.0.message)
    }
}

/// What the REST API's handlers return.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The answer for an unknown route under the API prefix.
pub(crate) async fn endpoint_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError(StoreError::new(ErrorCode::EndpointNotFound, format!("No API endpoint {method} {}", uri.path())))
}
