//! MLflow's scoring protocol: a request body (JSON in the
//! `dataframe_split`, `dataframe_records`, `instances` or `inputs` format,
//! or CSV), chosen by its content type, scored by a model into
//! `{"predictions": [...]}`, with class probabilities on request; and the
//! errors a scoring request can meet, in MLflow's error shape.
//!
//! The formats themselves are parsed by `retrain_ml::input`, the code
//! `retrain predict` uses; this module chooses the format and writes the
//! answer.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{LoadError, ServedModel};

/// Why a scoring request was not answered with predictions.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScoringError {
    /// The content type is neither JSON nor CSV (415).
    #[error("send Content-Type application/json or text/csv; got {got}")]
    UnsupportedMediaType {
        /// `'TYPE'` as sent, or `no Content-Type`.
        got: String,
    },
    /// A CSV body that is not text.
    #[error("the CSV body is not UTF-8")]
    CsvNotUtf8,
    /// The body does not parse, or its columns do not fit the model.
    #[error(transparent)]
    Input(#[from] retrain_ml::Error),
    /// Probabilities were asked of a model that has none.
    #[error("{algorithm} has no class probabilities")]
    NoProbabilities {
        /// The model's algorithm.
        algorithm: String,
    },
    /// A model served by name was selected in more than one way.
    #[error("give at most one of alias, version, stage")]
    AmbiguousSelector,
    /// The selected model cannot be loaded (404).
    #[error("cannot serve {uri}")]
    Unavailable {
        /// The registry URI the request selected.
        uri: String,
        /// Why it did not load.
        #[source]
        source: LoadError,
    },
}

impl IntoResponse for ScoringError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ScoringError::UnsupportedMediaType { .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST"),
            ScoringError::Unavailable { .. } => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            _ => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        };
        crate::mlflow::error_response(status, code, &retrain_ml::error_chain(&self))
    }
}

/// Whether a `proba` query parameter asks for probabilities.
pub(crate) fn is_true(flag: Option<&str>) -> bool {
    matches!(flag.map(str::to_ascii_lowercase).as_deref(), Some("true" | "1" | "yes"))
}

/// A label as MLflow would return it: integers stay integers.
fn label_value(label: &str) -> Value {
    match label.parse::<i64>() {
        Ok(n) if n.to_string() == label => json!(n),
        _ => json!(label),
    }
}

/// Scores one request body with `served`: the answer's JSON, with
/// `probabilities` and `classes` too when `proba` is set.
pub(crate) fn score(
    served: &ServedModel,
    headers: &HeaderMap,
    body: &[u8],
    proba: bool,
) -> Result<Value, ScoringError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let dataset = match media.as_str() {
        "application/json" => retrain_ml::input::from_json(body, &served.model.metadata.features)?,
        "text/csv" => {
            let text = std::str::from_utf8(body).map_err(|_| ScoringError::CsvNotUtf8)?;
            retrain_ml::input::from_csv(text, &served.model.metadata.target)?
        }
        _ => {
            let got = if content_type.is_empty() {
                "no Content-Type".to_owned()
            } else {
                format!("'{content_type}'")
            };
            return Err(ScoringError::UnsupportedMediaType { got });
        }
    };
    let predictions = served.model.predict(&dataset)?;
    let labels: Vec<Value> =
        predictions.class_index.iter().map(|&c| label_value(served.model.label(c))).collect();
    let mut answer = json!({"predictions": labels});
    if proba {
        if !predictions.has_proba {
            return Err(ScoringError::NoProbabilities {
                algorithm: served.model.metadata.algorithm.to_string(),
            });
        }
        let rows: Vec<Vec<f64>> =
            (0..predictions.scores.rows()).map(|i| predictions.scores.row(i).to_vec()).collect();
        answer["probabilities"] = json!(rows);
        answer["classes"] =
            json!(served.model.metadata.classes.iter().map(|c| label_value(c)).collect::<Vec<_>>());
    }
    Ok(answer)
}
