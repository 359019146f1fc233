//! Artifacts: the proxied artifact service under
//! `/api/2.0/mlflow-artifacts/artifacts/…` (upload, download, list,
//! delete), through which runs with `mlflow-artifacts:/` URIs store files,
//! and the tracking API's `artifacts/list` for a run.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use retrain_registry::{ArtifactStore, SqlStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiResult;
use super::message::{Message, decode_query, empty};
use super::tracking::RunRef;

pub(crate) async fn upload(
    State(artifacts): State<Arc<ArtifactStore>>,
    Path(path): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    artifacts.put(&path, body).await?;
    Ok(().into_response())
}

pub(crate) async fn download(
    State(artifacts): State<Arc<ArtifactStore>>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    let bytes = artifacts.get(&path).await?;
    let name = path.rsplit('/').next().unwrap_or("artifact").replace('"', "");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

pub(crate) async fn delete(
    State(artifacts): State<Arc<ArtifactStore>>,
    Path(path): Path<String>,
) -> ApiResult<Json<Value>> {
    artifacts.delete(&path).await?;
    Ok(empty())
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    path: Option<String>,
}

/// `GET …/mlflow-artifacts/artifacts?path=DIR`: entries named relative to DIR.
pub(crate) async fn list(
    State(artifacts): State<Arc<ArtifactStore>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let req: ListQuery = decode_query(query.as_deref().unwrap_or(""))?;
    let dir = req.path.unwrap_or_default();
    let files = artifacts.list(&dir, &dir).await?;
    Ok(Json(if files.is_empty() { json!({}) } else { json!({"files": files}) }))
}

#[derive(Deserialize)]
pub(crate) struct RunArtifacts {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    path: Option<String>,
}

/// `artifacts/list` of the tracking API: entries under a run's artifact
/// root, named relative to that root.
pub(crate) async fn list_run_artifacts(
    State(store): State<Arc<SqlStore>>,
    State(artifacts): State<Arc<ArtifactStore>>,
    Message(req): Message<RunArtifacts>,
) -> ApiResult<Json<Value>> {
    let run = store.get_run(req.run.id()?).await?;
    let root_uri = run.info.artifact_uri;
    let Some(root) = root_uri.strip_prefix(super::ARTIFACT_ROOT) else {
        // Artifacts stored elsewhere (an experiment with its own location)
        // are not visible to this server.
        return Ok(Json(json!({"root_uri": root_uri, "files": []})));
    };
    let root = root.trim_start_matches('/');
    let sub = req.path.unwrap_or_default();
    let dir = if sub.is_empty() { root.to_owned() } else { format!("{root}/{}", sub.trim_matches('/')) };
    let files = artifacts.list(&dir, root).await?;
    Ok(Json(json!({"root_uri": root_uri, "files": files})))
}
