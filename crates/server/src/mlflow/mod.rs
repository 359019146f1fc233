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
pub(crate) mod error;
mod logged_models;
mod message;
mod registry;
mod tracking;

use axum::extract::DefaultBodyLimit;
use retrain_registry::Role;
use serde_json::json;

use crate::App;
use crate::routes::{DELETE, GET, PATCH, POST, PUT, Routes};
use error::endpoint_not_found;
pub(crate) use error::error_response;

/// The artifact root of experiments created through this server: their
/// artifacts go through the proxied artifact API.
pub const ARTIFACT_ROOT: &str = "mlflow-artifacts:";

/// Largest artifact accepted in one upload, in bytes (1 GiB; an upload is
/// held in memory).
pub(crate) const MAX_ARTIFACT_BYTES: usize = 1 << 30;

/// Routes of the MLflow REST API, mounted under each prefix: reads for
/// viewers, writes for editors. (Searches are POSTs that only read.)
fn api_routes() -> Routes<App> {
    use Role::{Editor, Viewer};
    Routes::new()
        .to(POST, "/experiments/create", Editor, tracking::create_experiment)
        .to(GET, "/experiments/get", Viewer, tracking::get_experiment)
        .to(GET, "/experiments/get-by-name", Viewer, tracking::get_experiment_by_name)
        .to(POST, "/experiments/search", Viewer, tracking::search_experiments)
        .to(GET, "/experiments/search", Viewer, tracking::search_experiments)
        .to(POST, "/experiments/update", Editor, tracking::update_experiment)
        .to(POST, "/experiments/delete", Editor, tracking::delete_experiment)
        .to(POST, "/experiments/restore", Editor, tracking::restore_experiment)
        .to(POST, "/experiments/set-experiment-tag", Editor, tracking::set_experiment_tag)
        .to(POST, "/runs/create", Editor, tracking::create_run)
        .to(GET, "/runs/get", Viewer, tracking::get_run)
        .to(POST, "/runs/update", Editor, tracking::update_run)
        .to(POST, "/runs/delete", Editor, tracking::delete_run)
        .to(POST, "/runs/restore", Editor, tracking::restore_run)
        .to(POST, "/runs/search", Viewer, tracking::search_runs)
        .to(POST, "/runs/log-metric", Editor, tracking::log_metric)
        .to(POST, "/runs/log-parameter", Editor, tracking::log_param)
        .to(POST, "/runs/log-batch", Editor, tracking::log_batch)
        .to(POST, "/runs/log-inputs", Editor, tracking::log_inputs)
        .to(POST, "/runs/log-model", Editor, tracking::log_model)
        .to(POST, "/runs/set-tag", Editor, tracking::set_tag)
        .to(POST, "/runs/delete-tag", Editor, tracking::delete_tag)
        .to(GET, "/metrics/get-history", Viewer, tracking::get_metric_history)
        .to(GET, "/artifacts/list", Viewer, artifacts::list_run_artifacts)
        .to(POST, "/runs/outputs", Editor, logged_models::log_outputs)
        .to(POST, "/logged-models", Editor, logged_models::create_logged_model)
        .to(POST, "/logged-models/search", Viewer, logged_models::search_logged_models)
        .to(GET, "/logged-models/{model_id}", Viewer, logged_models::get_logged_model)
        .to(PATCH, "/logged-models/{model_id}", Editor, logged_models::finalize_logged_model)
        .to(DELETE, "/logged-models/{model_id}", Editor, logged_models::delete_logged_model)
        .to(PATCH, "/logged-models/{model_id}/tags", Editor, logged_models::set_logged_model_tags)
        .to(POST, "/registered-models/create", Editor, registry::create_registered_model)
        .to(GET, "/registered-models/get", Viewer, registry::get_registered_model)
        .to(POST, "/registered-models/rename", Editor, registry::rename_registered_model)
        .to(PATCH, "/registered-models/update", Editor, registry::update_registered_model)
        .to(DELETE, "/registered-models/delete", Editor, registry::delete_registered_model)
        .to(GET, "/registered-models/search", Viewer, registry::search_registered_models)
        .to(POST, "/registered-models/search", Viewer, registry::search_registered_models)
        .to(POST, "/registered-models/get-latest-versions", Viewer, registry::get_latest_versions)
        .to(GET, "/registered-models/get-latest-versions", Viewer, registry::get_latest_versions)
        .to(POST, "/registered-models/set-tag", Editor, registry::set_registered_model_tag)
        .to(DELETE, "/registered-models/delete-tag", Editor, registry::delete_registered_model_tag)
        .to(POST, "/registered-models/alias", Editor, registry::set_alias)
        .to(DELETE, "/registered-models/alias", Editor, registry::delete_alias)
        .to(GET, "/registered-models/alias", Viewer, registry::get_version_by_alias)
        .to(GET, "/registered-models/audit", Viewer, registry::registry_audit)
        .to(POST, "/model-versions/create", Editor, registry::create_model_version)
        .to(GET, "/model-versions/get", Viewer, registry::get_model_version)
        .to(PATCH, "/model-versions/update", Editor, registry::update_model_version)
        .to(DELETE, "/model-versions/delete", Editor, registry::delete_model_version)
        .to(GET, "/model-versions/search", Viewer, registry::search_model_versions)
        .to(POST, "/model-versions/search", Viewer, registry::search_model_versions)
        .to(POST, "/model-versions/transition-stage", Editor, registry::transition_stage)
        .to(GET, "/model-versions/get-download-uri", Viewer, registry::get_download_uri)
        .to(POST, "/model-versions/set-tag", Editor, registry::set_model_version_tag)
        .to(DELETE, "/model-versions/delete-tag", Editor, registry::delete_model_version_tag)
        .map_router(|router| router.fallback(endpoint_not_found))
}

fn artifact_routes() -> Routes<App> {
    use Role::{Editor, Viewer};
    Routes::new()
        .to(GET, "/artifacts", Viewer, artifacts::list)
        .to(PUT, "/artifacts/{*path}", Editor, artifacts::upload)
        .to(GET, "/artifacts/{*path}", Viewer, artifacts::download)
        .to(DELETE, "/artifacts/{*path}", Editor, artifacts::delete)
        .map_router(|router| {
            router.layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES)).fallback(endpoint_not_found)
        })
}

/// MLflow's REST API under both prefixes, the artifact service, and the
/// probes clients send before they start (`/health` and `/version` for
/// anyone; `server-info` says how the store is set up, so it needs a
/// viewer).
pub(crate) fn routes() -> Routes<App> {
    Routes::new()
        .public(GET, "/health", || async { "OK" })
        .public(GET, "/version", || async { crate::VERSION })
        .to(GET, "/api/3.0/mlflow/server-info", Role::Viewer, server_info)
        .to(GET, "/api/2.0/mlflow/server-info", Role::Viewer, server_info)
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
