//! FastAPI's error shape, which Airflow answers: `{"detail": "..."}`, or
//! for a request that does not validate, 422 with a list of problems and
//! where each is (`["body", "conf"]`); and the decoding of a JSON body
//! that names the field at fault.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A failed request, in FastAPI's shape.
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    detail: Value,
}

impl Problem {
    /// `status` with a message.
    pub(crate) fn detail(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem { status, detail: Value::String(message.into()) }
    }

    /// 422: what is wrong with the request, and where (`["body", "conf"]`).
    pub(crate) fn invalid(location: &[&str], kind: &str, message: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{"type": kind, "loc": location, "msg": message.into()}]),
        }
    }

    /// 500: the metadata database failed; logged.
    pub(crate) fn store(e: retrain_registry::StoreError) -> Problem {
        tracing::error!("pipeline API: {}", retrain_ml::error_chain(&e));
        Problem::detail(StatusCode::INTERNAL_SERVER_ERROR, format!("the metadata database failed: {e}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"detail": self.detail}))).into_response()
    }
}

/// What the handlers return.
pub(crate) type Answer = Result<axum::Json<Value>, Problem>;

/// Decodes a JSON body, naming the field at fault.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Problem> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::invalid(&["body"], "json_invalid", format!("JSON decode error: {e}")))?;
    if !value.is_object() {
        return Err(Problem::invalid(&["body"], "model_attributes_type", "the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut location = vec!["body"];
        if path != "." {
            location.push(&path);
        }
        Problem::invalid(&location, "value_error", e.inner().to_string())
    })
}
