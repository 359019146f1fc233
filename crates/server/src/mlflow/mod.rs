//! MLflow's REST API: the tracking service (experiments, runs, metrics),
//! MLflow 3's logged models, the model registry with retrain's audit
//! trail, and the proxied artifact service, under `/api/2.0/mlflow/` and
//! the `/ajax-api/2.0/mlflow/` alias the MLflow UI uses; and the probes
//! (`/health`, `/version`, `server-info`) clients send before they start.
//!
//! MLflow's client sends GET parameters as a query string and everything
//! else as a JSON body; [`message`] decodes both into the same typed
//! request, so one handler serves either. Anything a client can get wrong
//! (malformed JSON, a missing or mistyped field, an unknown id, a bad
//! filter) is a 4xx in MLflow's error shape ([`error`]), never a 500.

mod artifacts;
mod error;
mod logged_models;
mod message;
mod registry;
mod tracking;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use serde_json::json;

use crate::App;
use error::endpoint_not_found;
pub(crate) use error::error_response;

/// The artifact root of experiments created through this server: their
/// artifacts go through the proxied artifact API.
pub const ARTIFACT_ROOT: &str = "mlflow-artifacts:";

/// Largest artifact accepted in one upload, in bytes (1 GiB; an upload is
/// held in memory).
pub(crate) const MAX_ARTIFACT_BYTES: usize = 1 << 30;

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
        .route("/runs/outputs", post(logged_models::log_outputs))
        .route("/logged-models", post(logged_models::create_logged_model))
        .route("/logged-models/search", post(logged_models::search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get_logged_model)
                .patch(logged_models::finalize_logged_model)
                .delete(logged_models::delete_logged_model),
        )
        .route("/logged-models/{model_id}/tags", patch(logged_models::set_logged_model_tags))
        .route("/registered-models/create", post(registry::create_registered_model))
        .route("/registered-models/get", get(registry::get_registered_model))
        .route("/registered-models/rename", post(registry::rename_registered_model))
        .route("/registered-models/update", patch(registry::update_registered_model))
        .route("/registered-models/delete", delete(registry::delete_registered_model))
        .route(
            "/registered-models/search",
            get(registry::search_registered_models).post(registry::search_registered_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(registry::get_latest_versions).get(registry::get_latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_registered_model_tag))
        .route("/registered-models/delete-tag", delete(registry::delete_registered_model_tag))
        .route(
            "/registered-models/alias",
            post(registry::set_alias).delete(registry::delete_alias).get(registry::get_version_by_alias),
        )
        .route("/registered-models/audit", get(registry::registry_audit))
        .route("/model-versions/create", post(registry::create_model_version))
        .route("/model-versions/get", get(registry::get_model_version))
        .route("/model-versions/update", patch(registry::update_model_version))
        .route("/model-versions/delete", delete(registry::delete_model_version))
        .route(
            "/model-versions/search",
            get(registry::search_model_versions).post(registry::search_model_versions),
        )
        .route("/model-versions/transition-stage", post(registry::transition_stage))
        .route("/model-versions/get-download-uri", get(registry::get_download_uri))
        .route("/model-versions/set-tag", post(registry::set_model_version_tag))
        .route("/model-versions/delete-tag", delete(registry::delete_model_version_tag))
        .fallback(endpoint_not_found)
}

fn artifact_routes() -> Router<App> {
    Router::new()
        .route("/artifacts", get(artifacts::list))
        .route(
            "/artifacts/{*path}",
            put(artifacts::upload).get(artifacts::download).delete(artifacts::delete),
        )
        .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
        .fallback(endpoint_not_found)
}

/// MLflow's REST API under both prefixes, the artifact service, and the
/// probes clients send before they start.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { crate::VERSION }))
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
