//! The model registry: registered models, versions, stages and aliases,
//! plus retrain's audit-trail queries.
//!
//! Stage and alias changes record who made them: the `X-Retrain-Actor`
//! header when a client sends it, else the client's `User-Agent`; and why:
//! an optional `reason` field in the request body.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use retrain_registry::entities::{ModelVersion, RegisteredModel, Tag};
use retrain_registry::{SqlStore, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::message::{Message, Paged, empty, lenient, paged};
use crate::auth::Actor;

type Reply = ApiResult<Json<Value>>;

// ----- registered models ----------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreateRegisteredModel {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create_registered_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<CreateRegisteredModel>,
) -> Reply {
    let model =
        store.create_registered_model(&req.name, req.description.as_deref().unwrap_or(""), &req.tags).await?;
    Ok(Json(json!({"registered_model": model})))
}

#[derive(Deserialize)]
pub(crate) struct ModelName {
    name: String,
}

pub(crate) async fn get_registered_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ModelName>,
) -> Reply {
    Ok(Json(json!({"registered_model": store.get_registered_model(&req.name).await?})))
}

#[derive(Deserialize)]
pub(crate) struct RenameRegisteredModel {
    name: String,
    new_name: String,
}

pub(crate) async fn rename_registered_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<RenameRegisteredModel>,
) -> Reply {
    Ok(Json(json!({"registered_model": store.rename_registered_model(&req.name, &req.new_name).await?})))
}

#[derive(Deserialize)]
pub(crate) struct UpdateRegisteredModel {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) async fn update_registered_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<UpdateRegisteredModel>,
) -> Reply {
    let description = req.description.unwrap_or_default();
    Ok(Json(json!({"registered_model": store.update_registered_model(&req.name, &description).await?})))
}

pub(crate) async fn delete_registered_model(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ModelName>,
) -> Reply {
    store.delete_registered_model(&req.name).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct SearchRegisteredModels {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search_registered_models(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<SearchRegisteredModels>,
) -> ApiResult<Paged<RegisteredModel>> {
    let page = store
        .search_registered_models(
            req.filter.as_deref(),
            req.max_results,
            &req.order_by,
            req.page_token.as_deref(),
        )
        .await?;
    Ok(paged("registered_models", page))
}

#[derive(Deserialize)]
pub(crate) struct LatestVersions {
    name: String,
    #[serde(default)]
    stages: Vec<String>,
}

pub(crate) async fn get_latest_versions(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<LatestVersions>,
) -> Reply {
    Ok(Json(json!({"model_versions": store.get_latest_versions(&req.name, &req.stages).await?})))
}

#[derive(Deserialize)]
pub(crate) struct ModelTag {
    name: String,
    key: String,
    #[serde(default)]
    value: String,
}

pub(crate) async fn set_registered_model_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ModelTag>,
) -> Reply {
    store.set_registered_model_tag(&req.name, &Tag { key: req.key, value: req.value }).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct ModelTagKey {
    name: String,
    key: String,
}

pub(crate) async fn delete_registered_model_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<ModelTagKey>,
) -> Reply {
    store.delete_registered_model_tag(&req.name, &req.key).await?;
    Ok(empty())
}

// ----- aliases ----------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct SetAlias {
    name: String,
    alias: String,
    version: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn set_alias(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<SetAlias>,
) -> Reply {
    store.set_alias(&req.name, &req.alias, &req.version, &actor.name, &req.reason).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct AliasRef {
    name: String,
    alias: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn delete_alias(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<AliasRef>,
) -> Reply {
    store.delete_alias(&req.name, &req.alias, &actor.name, &req.reason).await?;
    Ok(empty())
}

pub(crate) async fn get_version_by_alias(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<AliasRef>,
) -> Reply {
    Ok(Json(json!({"model_version": store.get_version_by_alias(&req.name, &req.alias).await?})))
}

// ----- model versions -----------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct CreateModelVersion {
    name: String,
    source: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    run_link: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// The version's `user_id` is the signed-in user; on a server that signs
/// no one in it stays empty (never the client's User-Agent).
pub(crate) async fn create_model_version(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<CreateModelVersion>,
) -> Reply {
    let version = store
        .create_model_version(
            &req.name,
            &req.source,
            req.run_id.as_deref(),
            req.model_id.as_deref(),
            &req.tags,
            req.run_link.as_deref(),
            req.description.as_deref().unwrap_or(""),
            &actor.user_id(None),
        )
        .await?;
    Ok(Json(json!({"model_version": version})))
}

#[derive(Deserialize)]
pub(crate) struct VersionRef {
    name: String,
    version: String,
}

pub(crate) async fn get_model_version(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<VersionRef>,
) -> Reply {
    Ok(Json(json!({"model_version": store.get_model_version(&req.name, &req.version).await?})))
}

#[derive(Deserialize)]
pub(crate) struct UpdateModelVersion {
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
}

pub(crate) async fn update_model_version(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<UpdateModelVersion>,
) -> Reply {
    let description = req.description.unwrap_or_default();
    let version = store.update_model_version(&req.name, &req.version, &description).await?;
    Ok(Json(json!({"model_version": version})))
}

pub(crate) async fn delete_model_version(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<VersionRef>,
) -> Reply {
    store.delete_model_version(&req.name, &req.version, &actor.name).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct SearchModelVersions {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

pub(crate) async fn search_model_versions(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<SearchModelVersions>,
) -> ApiResult<Paged<ModelVersion>> {
    let page = store
        .search_model_versions(req.filter.as_deref(), req.max_results, req.page_token.as_deref())
        .await?;
    Ok(paged("model_versions", page))
}

#[derive(Deserialize)]
pub(crate) struct TransitionStage {
    name: String,
    version: String,
    stage: String,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    archive_existing_versions: Option<bool>,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn transition_stage(
    State(store): State<Arc<SqlStore>>,
    actor: Actor,
    Message(req): Message<TransitionStage>,
) -> Reply {
    let version = store
        .transition_stage(
            &req.name,
            &req.version,
            &req.stage,
            req.archive_existing_versions.unwrap_or(false),
            &actor.name,
            &req.reason,
        )
        .await?;
    Ok(Json(json!({"model_version": version})))
}

pub(crate) async fn get_download_uri(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<VersionRef>,
) -> Reply {
    Ok(Json(json!({"artifact_uri": store.model_version_download_uri(&req.name, &req.version).await?})))
}

#[derive(Deserialize)]
pub(crate) struct VersionTag {
    name: String,
    version: String,
    key: String,
    #[serde(default)]
    value: String,
}

pub(crate) async fn set_model_version_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<VersionTag>,
) -> Reply {
    store.set_model_version_tag(&req.name, &req.version, &Tag { key: req.key, value: req.value }).await?;
    Ok(empty())
}

#[derive(Deserialize)]
pub(crate) struct VersionTagKey {
    name: String,
    version: String,
    key: String,
}

pub(crate) async fn delete_model_version_tag(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<VersionTagKey>,
) -> Reply {
    store.delete_model_version_tag(&req.name, &req.version, &req.key).await?;
    Ok(empty())
}

// ----- audit trail (retrain's addition) -------------------------------------------

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    name: String,
    /// A moment: epoch milliseconds, an RFC 3339 time, or a date (its end,
    /// UTC).
    #[serde(default)]
    at: Option<String>,
}

/// Parses `at`: epoch milliseconds, RFC 3339, or `YYYY-MM-DD` meaning the
/// last millisecond of that UTC day.
fn moment(at: &str) -> ApiResult<i64> {
    if let Ok(ms) = at.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d")
        && let Some(next) = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(next.and_utc().timestamp_millis() - 1);
    }
    Err(ApiError::invalid(format!(
        "invalid moment '{at}': use epoch milliseconds, an RFC 3339 time or a date YYYY-MM-DD"
    )))
}

/// `registered-models/audit?name=N[&at=T]`: the stage and alias changes of
/// a model up to T (default now), and which versions held each stage and
/// alias at T.
pub(crate) async fn registry_audit(
    State(store): State<Arc<SqlStore>>,
    Message(req): Message<AuditQuery>,
) -> Reply {
    store.get_registered_model(&req.name).await?;
    let at = match req.at.as_deref() {
        Some(t) => moment(t)?,
        None => now_ms(),
    };
    let events = store.registry_events(&req.name, Some(at)).await?;
    let (stages, aliases) = store.registry_state_at(&req.name, at).await?;
    Ok(Json(json!({"name": req.name, "at": at, "stages": stages, "aliases": aliases, "events": events})))
}

#[cfg(test)]
mod tests {
    use super::moment;

    #[test]
    fn moments_accept_millis_rfc3339_and_dates() {
        assert_eq!(moment("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(moment("2026-11-03T00:00:00Z").unwrap(), 1_793_664_000_000);
        assert_eq!(moment("2026-11-03").unwrap(), 1_793_664_000_000 + 86_400_000 - 1);
        assert!(moment("3 November").is_err());
    }
}
