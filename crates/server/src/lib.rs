//! The retrain HTTP server: the MLflow-compatible tracking REST API and
//! the proxied artifact service, on one axum router; and model serving
//! with MLflow's scoring protocol ([`serving`]); and the part of
//! Airflow's REST API that triggers and watches pipeline runs
//! ([`airflow`]).
//!
//! Routes live under `/api/2.0/mlflow/` and the `/ajax-api/2.0/mlflow/`
//! alias the MLflow UI uses; `/health`, `/version` and
//! `/api/3.0/mlflow/server-info` answer what clients probe before they
//! start.

pub mod airflow;
mod api;
mod app;
mod server;
pub mod serving;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use serde_json::json;

use api::{artifacts, models, tracking};
pub use app::{App, AppBuilder};
pub use server::{RunningServer, ServeError, Server};

/// `error: cause: cause of the cause`, for a log line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The version `/version` reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The artifact root of experiments created through this server: their
/// artifacts go through the proxied artifact API.
pub const ARTIFACT_ROOT: &str = "mlflow-artifacts:";

/// Largest artifact accepted in one upload.
pub const MAX_ARTIFACT_BYTES: usize = 1 << 30;

/// Routes of the MLflow REST API, mounted under each prefix.
fn api_routes() -> Router<App> {
    Router::new()
        .route("/experiments/create", post(tracking::create_experiment))
        .route("/experiments/get", get(tracking::get_experiment))
        .route("/experiments/get-by-name", get(tracking::get_experiment_by_name))
        .route("/experiments/search", post(tracking::search_experiments).get(tracking::search_experiments))
        .route("/experiments/update", post(tracking::update_experiment))
        .route("/experiments/delete", post(tracking::delete_experiment))
        .route("/experiments/restore", post(tracking::restore_experiment))
        .route("/experiments/set-experiment-tag", post(tracking::set_experiment_tag))
        .route("/runs/create", post(tracking::create_run))
        .route("/runs/get", get(tracking::get_run))
        .route("/runs/update", post(tracking::update_run))
        .route("/runs/delete", post(tracking::delete_run))
        .route("/runs/restore", post(tracking::restore_run))
        .route("/runs/search", post(tracking::search_runs))
        .route("/runs/log-metric", post(tracking::log_metric))
        .route("/runs/log-parameter", post(tracking::log_param))
        .route("/runs/log-batch", post(tracking::log_batch))
        .route("/runs/log-inputs", post(tracking::log_inputs))
        .route("/runs/log-model", post(tracking::log_model))
        .route("/runs/set-tag", post(tracking::set_tag))
        .route("/runs/delete-tag", post(tracking::delete_tag))
        .route("/metrics/get-history", get(tracking::get_metric_history))
        .route("/artifacts/list", get(artifacts::list_run_artifacts))
        .route("/runs/outputs", post(models::log_outputs))
        .route("/logged-models", post(models::create_logged_model))
        .route("/logged-models/search", post(models::search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(models::get_logged_model)
                .patch(models::finalize_logged_model)
                .delete(models::delete_logged_model),
        )
        .route("/logged-models/{model_id}/tags", patch(models::set_logged_model_tags))
        .route("/registered-models/create", post(models::create_registered_model))
        .route("/registered-models/get", get(models::get_registered_model))
        .route("/registered-models/rename", post(models::rename_registered_model))
        .route("/registered-models/update", patch(models::update_registered_model))
        .route("/registered-models/delete", delete(models::delete_registered_model))
        .route(
            "/registered-models/search",
            get(models::search_registered_models).post(models::search_registered_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(models::get_latest_versions).get(models::get_latest_versions),
        )
        .route("/registered-models/set-tag", post(models::set_registered_model_tag))
        .route("/registered-models/delete-tag", delete(models::delete_registered_model_tag))
        .route(
            "/registered-models/alias",
            post(models::set_alias).delete(models::delete_alias).get(models::get_version_by_alias),
        )
        .route("/registered-models/audit", get(models::registry_audit))
        .route("/model-versions/create", post(models::create_model_version))
        .route("/model-versions/get", get(models::get_model_version))
        .route("/model-versions/update", patch(models::update_model_version))
        .route("/model-versions/delete", delete(models::delete_model_version))
        .route(
            "/model-versions/search",
            get(models::search_model_versions).post(models::search_model_versions),
        )
        .route("/model-versions/transition-stage", post(models::transition_stage))
        .route("/model-versions/get-download-uri", get(models::get_download_uri))
        .route("/model-versions/set-tag", post(models::set_model_version_tag))
        .route("/model-versions/delete-tag", delete(models::delete_model_version_tag))
        .fallback(api::endpoint_not_found)
}

fn artifact_routes() -> Router<App> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            put(artifacts::upload).get(artifacts::download).delete(artifacts::delete),
        )
        .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
        .fallback(api::endpoint_not_found)
}

/// MLflow's REST API under both prefixes, the artifact service, and the
/// probes clients send before they start.
pub(crate) fn mlflow_routes() -> Router<App> {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { VERSION }))
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/api/2.0/mlflow/server-info", get(server_info))
        .nest("/api/2.0/mlflow", api_routes())
        .nest("/ajax-api/2.0/mlflow", api_routes())
        .nest("/api/2.0/mlflow-artifacts", artifact_routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifact_routes())
}

async fn server_info() -> axum::Json<serde_json::Value> {
    axum::Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_url_supported": false,
        "presigned_upload_part_url_supported": false,
        "trace_archival_enabled": false,
        "features_enabled": {"gateway": false},
    }))
}
