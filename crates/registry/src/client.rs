//! `MlflowClient`: an MLflow REST client. It talks to `retrain server` or to
//! a real `mlflow server` alike, so tasks log and register the same way
//! whichever tracking server a team runs.
//!
//! Errors come back as the server's MLflow error code; a server that does
//! not answer, or answers with something other than MLflow's JSON, is an
//! `INTERNAL_ERROR` naming the URL.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::entities::*;
use crate::error::{ErrorCode, Result, StoreError};
use crate::uri::ModelUri;

const API: &str = "api/2.0/mlflow";

/// The variables MLflow's client reads its credentials from.
pub const TOKEN_ENV: &str = "MLFLOW_TRACKING_TOKEN";
const USERNAME_ENV: &str = "MLFLOW_TRACKING_USERNAME";
const PASSWORD_ENV: &str = "MLFLOW_TRACKING_PASSWORD";
const ARTIFACTS: &str = "api/2.0/mlflow-artifacts/artifacts";

/// An MLflow REST client, for retrain's server or MLflow's own. Every call
/// carries the client's credentials, if it has any, and names its actor
/// (`RETRAIN_ACTOR`, else `USER`) for the audit trail of a server that
/// signs no one in; an
/// error carries the server's error code (or one read from the HTTP
/// status), and `INTERNAL_ERROR` when the server could not be reached.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    base: String,
    http: reqwest::Client,
}

fn field<T: DeserializeOwned>(mut value: Value, name: &str) -> Result<T> {
    let inner = value.get_mut(name).map(Value::take).unwrap_or(Value::Null);
    serde_json::from_value(inner)
        .map_err(|e| StoreError::internal(format!("unexpected '{name}' in the answer: {e}")))
}

/// A list field that servers omit when it is empty.
fn list<T: DeserializeOwned>(value: Value, name: &str) -> Result<Vec<T>> {
    if value.get(name).is_none_or(Value::is_null) {
        return Ok(Vec::new());
    }
    field(value, name)
}

impl MlflowClient {
    /// A client of the tracking server at `url` (e.g. `http://127.0.0.1:5000`),
    /// with the credentials MLflow's client takes from its environment:
    /// `MLFLOW_TRACKING_TOKEN` (a bearer token), else
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
    pub fn new(url: &str) -> Result<MlflowClient> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let authorization = match (env(TOKEN_ENV), env(USERNAME_ENV), env(PASSWORD_ENV)) {
            (Some(token), _, _) => Some(format!("Bearer {token}")),
            (None, Some(user), Some(password)) => {
                Some(format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))))
            }
            _ => None,
        };
        MlflowClient::build(url, authorization)
    }

    /// A client of the tracking server at `url` that sends `token` as its
    /// bearer token, whatever the environment says.
    pub fn with_token(url: &str, token: &str) -> Result<MlflowClient> {
        MlflowClient::build(url, Some(format!("Bearer {token}")))
    }

    fn build(url: &str, authorization: Option<String>) -> Result<MlflowClient> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::invalid(format!(
                "tracking URI '{url}' must be an http:// or https:// URL of a tracking server"
            )));
        }
        // Who the audit trail names when the server signs no one in.
        let actor = std::env::var("RETRAIN_ACTOR")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "retrain".into());
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&actor) {
            headers.insert("x-retrain-actor", value);
        }
        if let Some(authorization) = authorization {
            let mut value = HeaderValue::from_str(&authorization).map_err(|_| {
                StoreError::invalid(format!(
                    "the credentials in {TOKEN_ENV} or {PASSWORD_ENV} are not header text"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("retrain/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| StoreError::internal(format!("cannot build an HTTP client: {e}")))?;
        Ok(MlflowClient { base: url.trim_end_matches('/').to_owned(), http })
    }

    /// The server's base URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call(&self, method: Method, endpoint: &str, body: Value) -> Result<Value> {
        let url = format!("{}/{API}/{endpoint}", self.base);
        let request = if method == Method::GET {
            let query: Vec<(String, String)> = body
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(k, v)| match v {
                    Value::Array(items) => items.iter().map(|i| (k.clone(), plain(i))).collect::<Vec<_>>(),
                    other => vec![(k.clone(), plain(other))],
                })
                .collect();
            self.http.get(&url).query(&query)
        } else {
            self.http.request(method, &url).json(&body)
        };
        let response =
            request.send().await.map_err(|e| StoreError::internal(format!("cannot reach {url}: {e}")))?;
        answer(&url, response).await
    }

    // ----- tracking ----------------------------------------------------

    pub(crate) async fn create_experiment(&self, name: &str, tags: &[Tag]) -> Result<String> {
        let v = self.call(Method::POST, "experiments/create", json!({"name": name, "tags": tags})).await?;
        field(v, "experiment_id")
    }

    /// The experiment called `name`; `RESOURCE_DOES_NOT_EXIST` when there is
    /// none.
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let v = self.call(Method::GET, "experiments/get-by-name", json!({"experiment_name": name})).await?;
        field(v, "experiment")
    }

    /// The experiment called `name`, created if it does not exist.
    pub async fn experiment_id(&self, name: &str) -> Result<String> {
        match self.get_experiment_by_name(name).await {
            Ok(e) => Ok(e.experiment_id),
            Err(e) if e.code == ErrorCode::ResourceDoesNotExist => {
                match self.create_experiment(name, &[]).await {
                    Ok(id) => Ok(id),
                    // Someone else created it meanwhile.
                    Err(e) if e.code == ErrorCode::ResourceAlreadyExists => {
                        Ok(self.get_experiment_by_name(name).await?.experiment_id)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a run in the experiment, now, as user `retrain`.
    pub async fn create_run(&self, experiment_id: &str, run_name: &str, tags: &[Tag]) -> Result<Run> {
        let body = json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": crate::now_ms(), "tags": tags, "user_id": "retrain"});
        field(self.call(Method::POST, "runs/create", body).await?, "run")
    }

    /// The run with its data and inputs.
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        field(self.call(Method::GET, "runs/get", json!({"run_id": run_id, "run_uuid": run_id})).await?, "run")
    }

    /// Ends a run with `status` (`FINISHED`, `FAILED`, `KILLED`), now.
    pub async fn finish_run(&self, run_id: &str, status: &str) -> Result<()> {
        let body =
            json!({"run_id": run_id, "run_uuid": run_id, "status": status, "end_time": crate::now_ms()});
        self.call(Method::POST, "runs/update", body).await.map(drop)
    }

    /// Logs in batches within MLflow's limits per request.
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        for chunk in params.chunks(crate::limits::MAX_BATCH_PARAMS) {
            self.call(Method::POST, "runs/log-batch", json!({"run_id": run_id, "params": chunk})).await?;
        }
        for chunk in tags.chunks(crate::limits::MAX_BATCH_TAGS) {
            self.call(Method::POST, "runs/log-batch", json!({"run_id": run_id, "tags": chunk})).await?;
        }
        for chunk in metrics.chunks(crate::limits::MAX_BATCH_METRICS) {
            self.call(Method::POST, "runs/log-batch", json!({"run_id": run_id, "metrics": chunk})).await?;
        }
        Ok(())
    }

    /// Active runs of the experiments matching an MLflow `filter` (empty for
    /// all), in `order_by` order (`metrics.accuracy DESC`), at most
    /// `max_results`: one page, no page tokens followed.
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: &str,
        order_by: &[String],
        max_results: i64,
    ) -> Result<Vec<Run>> {
        let body = json!({"experiment_ids": experiment_ids, "filter": filter, "order_by": order_by, "max_results": max_results, "run_view_type": "ACTIVE_ONLY"});
        list(self.call(Method::POST, "runs/search", body).await?, "runs")
    }

    /// Every point of a metric of a run, in the order the server gives them,
    /// following page tokens.
    pub async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query =
                json!({"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": 25000});
            if let Some(t) = &token {
                query["page_token"] = t.clone().into();
            }
            let v = self.call(Method::GET, "metrics/get-history", query).await?;
            token =
                v.get("next_page_token").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
            points.extend(list::<Metric>(v, "metrics")?);
            if token.is_none() {
                return Ok(points);
            }
        }
    }

    // ----- artifacts -----------------------------------------------------

    /// The proxied path of an `mlflow-artifacts:` URI.
    fn proxied(uri: &str) -> Result<String> {
        let rest = uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
            StoreError::invalid(format!(
                "artifact URI '{uri}' is not served by the tracking server (expected mlflow-artifacts:/…)"
            ))
        })?;
        // `mlflow-artifacts://host/path` carries a host; the path follows it.
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.split_once('/').map(|(_, p)| p).unwrap_or(""),
            None => rest,
        };
        Ok(path.trim_start_matches('/').to_owned())
    }

    /// Uploads every file under `local_dir` to `artifact_uri/artifact_path`.
    pub async fn upload_dir(
        &self,
        artifact_uri: &str,
        artifact_path: &str,
        local_dir: &Path,
    ) -> Result<usize> {
        let root = Self::proxied(artifact_uri)?;
        let mut uploaded = 0;
        let mut pending = vec![local_dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| StoreError::invalid(format!("cannot read {}: {e}", dir.display())))?;
            for entry in entries {
                let path = entry.map_err(|e| StoreError::internal(e.to_string()))?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative =
                    path.strip_prefix(local_dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                let key = [root.as_str(), artifact_path.trim_matches('/'), relative.as_str()]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path)
                    .map_err(|e| StoreError::invalid(format!("cannot read {}: {e}", path.display())))?;
                let url = format!("{}/{ARTIFACTS}/{key}", self.base);
                let response = self
                    .http
                    .put(&url)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| StoreError::internal(format!("cannot reach {url}: {e}")))?;
                answer(&url, response).await?;
                uploaded += 1;
            }
        }
        Ok(uploaded)
    }

    /// Downloads everything under an `mlflow-artifacts:` URI into `dest`;
    /// returns the number of files.
    pub async fn download_dir(&self, artifact_uri: &str, dest: &Path) -> Result<usize> {
        let root = Self::proxied(artifact_uri)?;
        let mut count = 0;
        let mut pending = vec![String::new()];
        while let Some(sub) = pending.pop() {
            let dir = if sub.is_empty() { root.clone() } else { format!("{root}/{sub}") };
            let url = format!("{}/{ARTIFACTS}", self.base);
            let response = self
                .http
                .get(&url)
                .query(&[("path", dir.as_str())])
                .send()
                .await
                .map_err(|e| StoreError::internal(format!("cannot reach {url}: {e}")))?;
            let listing = answer(&url, response).await?;
            let files: Vec<Value> = list(listing, "files")?;
            if files.is_empty() && sub.is_empty() {
                return Err(StoreError::not_found(format!("no artifacts under {artifact_uri}")));
            }
            for file in files {
                let name = file.get("path").and_then(Value::as_str).unwrap_or_default();
                let name = name.rsplit('/').next().unwrap_or(name);
                let relative = if sub.is_empty() { name.to_owned() } else { format!("{sub}/{name}") };
                if file.get("is_dir").and_then(Value::as_bool).unwrap_or(false) {
                    pending.push(relative);
                    continue;
                }
                let url = format!("{}/{ARTIFACTS}/{root}/{relative}", self.base);
                let response = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| StoreError::internal(format!("cannot reach {url}: {e}")))?;
                if !response.status().is_success() {
                    answer(&url, response).await?;
                    continue;
                }
                let bytes =
                    response.bytes().await.map_err(|e| StoreError::internal(format!("{url}: {e}")))?;
                let target = dest.join(&relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::internal(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                std::fs::write(&target, &bytes)
                    .map_err(|e| StoreError::internal(format!("cannot write {}: {e}", target.display())))?;
                count += 1;
            }
        }
        Ok(count)
    }

    // ----- registry --------------------------------------------------------

    /// Creates the registered model unless it exists.
    pub async fn ensure_registered_model(&self, name: &str) -> Result<()> {
        match self.call(Method::POST, "registered-models/create", json!({"name": name})).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::ResourceAlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The registered model with its latest versions, tags and aliases.
    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        field(
            self.call(Method::GET, "registered-models/get", json!({"name": name})).await?,
            "registered_model",
        )
    }

    /// Registered models matching an MLflow `filter` (`name LIKE 'iris%'`), at
    /// most 1000.
    pub async fn search_registered_models(&self, filter: &str) -> Result<Vec<RegisteredModel>> {
        let v = self
            .call(Method::GET, "registered-models/search", json!({"filter": filter, "max_results": 1000}))
            .await?;
        list(v, "registered_models")
    }

    /// Registers a new version of `name` from `source` (a `runs:/` or artifact
    /// URI); the model must exist (see
    /// [`MlflowClient::ensure_registered_model`]).
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        tags: &[Tag],
    ) -> Result<ModelVersion> {
        let body = json!({"name": name, "source": source, "run_id": run_id, "tags": tags});
        field(self.call(Method::POST, "model-versions/create", body).await?, "model_version")
    }

    pub(crate) async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let v =
            self.call(Method::GET, "model-versions/get", json!({"name": name, "version": version})).await?;
        field(v, "model_version")
    }

    /// Sets a tag on a version, replacing its value.
    pub async fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> Result<()> {
        let body = json!({"name": name, "version": version, "key": tag.key, "value": tag.value});
        self.call(Method::POST, "model-versions/set-tag", body).await.map(drop)
    }

    /// Versions matching an MLflow `filter` (`name = 'iris-rf'`): the server's
    /// first page.
    pub async fn search_model_versions(&self, filter: &str) -> Result<Vec<ModelVersion>> {
        let v = self.call(Method::GET, "model-versions/search", json!({"filter": filter})).await?;
        list(v, "model_versions")
    }

    /// Points `alias` at `version`. A non-empty `reason` goes into
    /// retrain's audit trail (MLflow's server has none and is not sent one).
    pub async fn set_alias(&self, name: &str, alias: &str, version: &str, reason: &str) -> Result<()> {
        let mut body = json!({"name": name, "alias": alias, "version": version});
        with_reason(&mut body, reason);
        self.call(Method::POST, "registered-models/alias", body).await.map(drop)
    }

    /// Removes an alias; a non-empty `reason` goes into retrain's audit trail,
    /// as for [`MlflowClient::set_alias`].
    pub async fn delete_alias(&self, name: &str, alias: &str, reason: &str) -> Result<()> {
        let mut body = json!({"name": name, "alias": alias});
        with_reason(&mut body, reason);
        self.call(Method::DELETE, "registered-models/alias", body).await.map(drop)
    }

    /// retrain's audit trail of a model: stage and alias changes up to
    /// `at` (epoch ms, RFC 3339 or a date), and who held what then.
    pub async fn registry_audit(&self, name: &str, at: Option<&str>) -> Result<Value> {
        let mut query = json!({"name": name});
        if let Some(at) = at {
            query["at"] = at.into();
        }
        self.call(Method::GET, "registered-models/audit", query).await
    }

    /// The version `alias` points at; `RESOURCE_DOES_NOT_EXIST` when it points
    /// nowhere.
    pub async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let v =
            self.call(Method::GET, "registered-models/alias", json!({"name": name, "alias": alias})).await?;
        field(v, "model_version")
    }

    /// Moves a version to `stage` (`Staging`, `Production`, `Archived`,
    /// `None`); with `archive`, the stage's other versions are archived. A
    /// non-empty `reason` goes into the audit trail.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive: bool,
        reason: &str,
    ) -> Result<ModelVersion> {
        let mut body =
            json!({"name": name, "version": version, "stage": stage, "archive_existing_versions": archive});
        with_reason(&mut body, reason);
        field(self.call(Method::POST, "model-versions/transition-stage", body).await?, "model_version")
    }

    /// The newest version in each of `stages` (every stage when empty),
    /// MLflow's deprecated `get-latest-versions`.
    pub async fn get_latest_versions(&self, name: &str, stages: &[&str]) -> Result<Vec<ModelVersion>> {
        let body = json!({"name": name, "stages": stages});
        list(self.call(Method::POST, "registered-models/get-latest-versions", body).await?, "model_versions")
    }

    /// Where a version's files are. MLflow's server answers a `runs:/`
    /// source as registered; that is resolved to the run's artifact URI.
    pub async fn download_uri(&self, name: &str, version: &str) -> Result<String> {
        let v = self
            .call(Method::GET, "model-versions/get-download-uri", json!({"name": name, "version": version}))
            .await?;
        let uri: String = field(v, "artifact_uri")?;
        match ModelUri::parse(&uri) {
            Ok(ModelUri::Run { run_id, path }) => self.run_artifact_uri(&run_id, &path).await,
            _ => Ok(uri),
        }
    }

    async fn run_artifact_uri(&self, run_id: &str, path: &str) -> Result<String> {
        let run = self.get_run(run_id).await?;
        let base = run.info.artifact_uri.trim_end_matches('/').to_owned();
        Ok(if path.is_empty() { base } else { format!("{base}/{path}") })
    }

    /// Resolves a model URI the MLflow way to the version it names (for
    /// `models:/` URIs) and the artifact URI of its files:
    /// `models:/NAME/3`, `models:/NAME@ALIAS`, `models:/NAME/STAGE`,
    /// `runs:/RUN_ID/PATH`.
    pub async fn resolve(&self, uri: &ModelUri) -> Result<(Option<ModelVersion>, String)> {
        match uri.clone() {
            ModelUri::Version { name, version } => {
                let v = self.get_model_version(&name, &version).await?;
                let location = self.download_uri(&name, &v.version).await?;
                Ok((Some(v), location))
            }
            ModelUri::Alias { name, alias } => {
                let v = self.get_version_by_alias(&name, &alias).await?;
                let location = self.download_uri(&name, &v.version).await?;
                Ok((Some(v), location))
            }
            ModelUri::Stage { name, stage } => {
                let v =
                    self.get_latest_versions(&name, &[stage]).await?.into_iter().next().ok_or_else(|| {
                        StoreError::not_found(format!(
                            "Registered model '{name}' has no version in stage {stage}"
                        ))
                    })?;
                let location = self.download_uri(&name, &v.version).await?;
                Ok((Some(v), location))
            }
            ModelUri::Run { run_id, path } => Ok((None, self.run_artifact_uri(&run_id, &path).await?)),
        }
    }

    /// Resolves a model URI and makes its files available under
    /// `cache_root` (`NAME/VERSION/` for registry URIs), downloading them
    /// once into a staging directory that is renamed into place, so a
    /// reader never sees half a model.
    pub async fn fetch_model(
        &self,
        uri: &ModelUri,
        cache_root: &Path,
    ) -> Result<(Option<ModelVersion>, PathBuf)> {
        let (version, location) = self.resolve(uri).await?;
        let dir = match (uri, &version) {
            (ModelUri::Run { run_id, path }, _) if path.is_empty() => cache_root.join("runs").join(run_id),
            (ModelUri::Run { run_id, path }, _) => {
                cache_root.join("runs").join(format!("{run_id}_{}", path.replace('/', "_")))
            }
            (_, Some(v)) => cache_root.join("models").join(&v.name).join(&v.version),
            (_, None) => {
                return Err(StoreError::internal(format!("the registry named no version for {uri}")));
            }
        };
        if dir.is_dir() {
            return Ok((version, dir));
        }
        let parent = dir.parent().unwrap_or(cache_root);
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::internal(format!("cannot create {}: {e}", parent.display())))?;
        let staging = parent.join(format!(".download-{}", uuid::Uuid::new_v4().simple()));
        let files = self.download_dir(&location, &staging).await;
        match files {
            Ok(n) if n > 0 => {}
            Ok(_) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(StoreError::not_found(format!("no files at {location} (model URI {uri})")));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        }
        if let Err(e) = std::fs::rename(&staging, &dir) {
            let _ = std::fs::remove_dir_all(&staging);
            // Another process may have put the same version in place meanwhile.
            if !dir.is_dir() {
                return Err(StoreError::internal(format!(
                    "cannot move the model into {}: {e}",
                    dir.display()
                )));
            }
        }
        Ok((version, dir))
    }
}

fn with_reason(body: &mut Value, reason: &str) {
    if !reason.is_empty() {
        body["reason"] = reason.into();
    }
}

/// A query-string value: strings as they are, everything else as JSON text.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The JSON answer, or the MLflow error it carries.
async fn answer(url: &str, response: reqwest::Response) -> Result<Value> {
    let status = response.status();
    let text = response.text().await.map_err(|e| StoreError::internal(format!("{url}: {e}")))?;
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        return serde_json::from_str(&text).map_err(|_| {
            StoreError::internal(format!("{url} answered {status} with something other than JSON"))
        });
    }
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let code = parsed
        .as_ref()
        .and_then(|v| v.get("error_code"))
        .and_then(Value::as_str)
        .and_then(ErrorCode::from_name)
        .unwrap_or(match status {
            StatusCode::NOT_FOUND => ErrorCode::ResourceDoesNotExist,
            s if s.is_client_error() => ErrorCode::InvalidParameterValue,
            _ => ErrorCode::InternalError,
        });
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{url} answered {status}"));
    Err(StoreError::new(code, message))
}
