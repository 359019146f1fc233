//! Runs: create, read, update, delete and restore; params, tags and
//! dataset inputs; `log-batch` (all or nothing) and MLflow 2.x's
//! `runs/log-model`. Only an active run takes new data, and a param once
//! logged keeps its value, as in MLflow.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

mod search;

use crate::SqlStore;
use crate::db::{Arg, Backend, Sql, WriteTx, now_ms, text};
use crate::entities::{DatasetInput, Metric, Param, Run, RunData, RunInfo, RunInputs, Tag};
use crate::error::{ErrorCode, Result, StoreError};
use crate::limits::{
    MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS, check_key, stored_param, stored_run_tag,
};
use crate::states::{Lifecycle, RunStatus, check_active_run, requested, run_not_found};
use crate::store::experiments::parse_experiment_id;
use crate::store::metrics::{insert_metrics, metric_from_row};
use crate::tags::set_tag_in;

/// The run tag listing the models logged in a run (MLflow 2.x).
const LOGGED_MODELS_TAG: &str = "mlflow.log-model.history";

/// Sets a run's tag; `mlflow.runName` also renames the run.
async fn upsert_tag(tx: &mut WriteTx, run_id: &str, tag: &Tag) -> Result<()> {
    set_tag_in(tx, "tags", &[("run_id", Arg::Text(run_id.into()))], tag).await?;
    if tag.key == "mlflow.runName" && !tag.value.is_empty() {
        Sql::new("UPDATE runs SET run_name = ")
            .text_arg(tag.value.clone())
            .push(" WHERE run_id = ")
            .text_arg(run_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(crate) fn run_info_from_row(row: &AnyRow) -> Result<RunInfo> {
    let run_id = text(row, "run_id")?;
    let experiment_id: i64 = row.try_get("experiment_id")?;
    Ok(RunInfo {
        run_uuid: run_id.clone(),
        run_id,
        experiment_id: experiment_id.to_string(),
        run_name: text(row, "run_name")?,
        user_id: text(row, "user_id")?,
        status: text(row, "status")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        artifact_uri: text(row, "artifact_uri")?,
        lifecycle_stage: text(row, "lifecycle_stage")?,
    })
}

impl SqlStore {
    /// Starts a run in a live experiment, `RUNNING`, at `start_time` (ms since
    /// the epoch; now when `None`). The name is `run_name`, else the
    /// `mlflow.runName` tag, else `run-` and the id's first 8 digits.
    pub async fn create_run(
        &self,
        experiment_id: &str,
        user_id: &str,
        run_name: Option<&str>,
        start_time: Option<i64>,
        tags: &[Tag],
    ) -> Result<Run> {
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != Lifecycle::Active.as_ref() {
            return Err(StoreError::invalid(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is {}.",
                experiment.lifecycle_stage
            )));
        }
        for tag in tags {
            check_key("tag", &tag.key)?;
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let tagged_name = tags.iter().find(|t| t.key == "mlflow.runName").map(|t| t.value.clone());
        let name = run_name
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or(tagged_name)
            .unwrap_or_else(|| format!("run-{}", &run_id[..8]));
        let artifact_uri = format!("{}/{run_id}/artifacts", experiment.artifact_location);
        let mut tx = self.write().await?;
        let values = vec![
            Arg::Text(run_id.clone()),
            Arg::Int(parse_experiment_id(experiment_id)?),
            Arg::Text(name.clone()),
            Arg::Text(user_id.to_owned()),
            Arg::Text(RunStatus::Running.as_ref().into()),
            Arg::Int(start_time.unwrap_or_else(now_ms)),
            Arg::Text(artifact_uri),
            Arg::Text(Lifecycle::Active.as_ref().into()),
        ];
        Sql::insert(
            "runs",
            &[
                "run_id",
                "experiment_id",
                "run_name",
                "user_id",
                "status",
                "start_time",
                "artifact_uri",
                "lifecycle_stage",
            ],
            values,
        )
        .execute(&mut *tx)
        .await?;
        let mut all_tags: Vec<Tag> = tags.iter().map(stored_run_tag).collect();
        if !all_tags.iter().any(|t| t.key == "mlflow.runName") {
            all_tags.push(Tag { key: "mlflow.runName".into(), value: name });
        }
        for tag in &all_tags {
            upsert_tag(&mut tx, &run_id, tag).await?;
        }
        tx.commit().await?;
        self.get_run(&run_id).await
    }

    pub(crate) async fn run_info(&self, run_id: &str) -> Result<RunInfo> {
        let row = Sql::new("SELECT * FROM runs WHERE run_id = ")
            .text_arg(run_id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| run_not_found(run_id))?;
        run_info_from_row(&row)
    }

    /// The run with id `run_id`, with its params, tags, latest metrics and
    /// inputs; deleted runs included.
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        let info = self.run_info(run_id).await?;
        let mut data = self.runs_data(std::slice::from_ref(&info.run_id)).await?;
        let inputs = self.run_inputs(run_id).await?;
        Ok(Run { data: data.pop().map(|(_, d)| d).unwrap_or_default(), info, inputs })
    }

    async fn run_inputs(&self, run_id: &str) -> Result<RunInputs> {
        let rows = Sql::new("SELECT payload FROM run_inputs WHERE run_id = ")
            .text_arg(run_id)
            .push(" ORDER BY position")
            .fetch_all(&self.db.pool)
            .await?;
        let mut inputs = RunInputs::default();
        for row in rows {
            let payload: &str = row.try_get("payload")?;
            if let Ok(input) = serde_json::from_str(payload) {
                inputs.dataset_inputs.push(input);
            }
        }
        Ok(inputs)
    }

    /// Params, tags and latest metrics of several runs, in `run_ids` order.
    pub(crate) async fn runs_data(&self, run_ids: &[String]) -> Result<Vec<(String, RunData)>> {
        let mut out: Vec<(String, RunData)> =
            run_ids.iter().map(|id| (id.clone(), RunData::default())).collect();
        if run_ids.is_empty() {
            return Ok(out);
        }
        let position: HashMap<&str, usize> =
            run_ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        // A page of runs holds thousands of values, and each value read
        // through sqlx costs an allocation or more on both sides of its
        // worker thread: so each run's params and tags come back as one
        // JSON object (keys are unique, texts exact), and metrics, whose
        // values must stay native doubles, as one row each.
        let select = |columns: &str, table: &str| {
            let mut sql = Sql::new(&format!("SELECT run_id, {columns} FROM {table} WHERE run_id IN "));
            sql.list(run_ids.iter().cloned().map(Arg::Text));
            sql
        };
        let object_per_run = |table: &str| {
            let object = match self.db.backend {
                Backend::Sqlite => "json_group_object(key, value) AS object",
                Backend::Postgres => "json_object_agg(key, value)::text AS object",
            };
            let mut sql = select(object, table);
            sql.push(" GROUP BY run_id");
            sql
        };
        let metrics = select("key, value, timestamp, step", "latest_metrics");
        let (params, tags) = (object_per_run("params"), object_per_run("tags"));
        // Three reads on three connections at once.
        let (metrics, params, tags) = tokio::try_join!(
            metrics.query_on(self.db.backend).fetch_all(&self.db.pool),
            params.query_on(self.db.backend).fetch_all(&self.db.pool),
            tags.query_on(self.db.backend).fetch_all(&self.db.pool),
        )?;
        let index = |row: &AnyRow| -> Result<usize> {
            let run_id: &str = row.try_get("run_id")?;
            Ok(position[run_id])
        };
        // Objects come back ordered by key, as the API lists them.
        let entries = |row: &AnyRow| -> Result<BTreeMap<String, String>> {
            let object: &str = row.try_get("object")?;
            serde_json::from_str(object)
                .map_err(|e| StoreError::internal(format!("a run's stored values: {e}")))
        };
        for row in &metrics {
            out[index(row)?].1.metrics.push(metric_from_row(row)?);
        }
        for row in &params {
            let data = &mut out[index(row)?].1;
            data.params = entries(row)?.into_iter().map(|(key, value)| Param { key, value }).collect();
        }
        for row in &tags {
            let data = &mut out[index(row)?].1;
            data.tags = entries(row)?.into_iter().map(|(key, value)| Tag { key, value }).collect();
        }
        // Sorted here, not in SQL: each run's few rows, not one sort of them all.
        for (_, data) in &mut out {
            data.metrics.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(out)
    }

    /// Changes what is given of a live run's status, end time (ms since the
    /// epoch) and name, keeping the `mlflow.runName` tag in step, and returns
    /// the run's info.
    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<&str>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        self.require_active_run(run_id).await?;
        let status = status.map(|s| requested::<RunStatus>("run status", s)).transpose()?;
        let mut tx = self.write().await?;
        let mut sql = Sql::new("UPDATE runs SET run_id = run_id");
        if let Some(s) = status {
            sql.push(", status = ").text_arg(s.as_ref());
        }
        if let Some(t) = end_time {
            sql.push(", end_time = ").int_arg(t);
        }
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            sql.push(", run_name = ").text_arg(name);
        }
        sql.push(" WHERE run_id = ").text_arg(run_id);
        sql.execute(&mut *tx).await?;
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            upsert_tag(&mut tx, run_id, &Tag { key: "mlflow.runName".into(), value: name.into() }).await?;
        }
        tx.commit().await?;
        self.run_info(run_id).await
    }

    /// Marks a run `deleted` or `active` again.
    pub async fn set_run_lifecycle(&self, run_id: &str, stage: &str) -> Result<()> {
        let stage = requested::<Lifecycle>("lifecycle stage", stage)?;
        self.run_info(run_id).await?;
        Sql::new("UPDATE runs SET lifecycle_stage = ")
            .text_arg(stage.as_ref())
            .push(" WHERE run_id = ")
            .text_arg(run_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn require_active_run(&self, run_id: &str) -> Result<RunInfo> {
        let info = self.run_info(run_id).await?;
        check_active_run(run_id, Some(&info.lifecycle_stage))?;
        Ok(info)
    }

    /// Logs one metric point to a live run.
    pub async fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.log_batch(run_id, std::slice::from_ref(metric), &[], &[]).await
    }

    /// Logs one param to a live run; a param is set once, and a different value
    /// later is refused.
    pub async fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.log_batch(run_id, &[], std::slice::from_ref(param), &[]).await
    }

    /// Sets a tag on a live run, replacing its value.
    pub async fn set_tag(&self, run_id: &str, tag: &Tag) -> Result<()> {
        self.log_batch(run_id, &[], &[], std::slice::from_ref(tag)).await
    }

    /// Logs metrics, params and tags in one transaction: all or nothing.
    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        if metrics.len() > MAX_BATCH_METRICS || params.len() > MAX_BATCH_PARAMS || tags.len() > MAX_BATCH_TAGS
        {
            return Err(StoreError::invalid(format!(
                "A batch logging request can contain at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params \
                 and {MAX_BATCH_TAGS} tags; got {}, {} and {}",
                metrics.len(),
                params.len(),
                tags.len()
            )));
        }
        for m in metrics {
            check_key("metric", &m.key)?;
        }
        for p in params {
            check_key("param", &p.key)?;
        }
        for t in tags {
            check_key("tag", &t.key)?;
        }
        if params.is_empty() && tags.is_empty() {
            // The group commit checks the run, in its transaction.
            return match metrics {
                [] => self.require_active_run(run_id).await.map(drop),
                _ => self.log_metrics_grouped(run_id, metrics).await,
            };
        }
        self.require_active_run(run_id).await?;
        let params: Vec<Param> = params.iter().map(stored_param).collect();
        let mut tx = self.write().await?;
        if !params.is_empty() {
            self.insert_new_params(&mut tx, run_id, &params).await?;
        }
        // Within a batch the last value of a tag wins.
        let mut last_tags: BTreeMap<&str, Tag> = BTreeMap::new();
        for t in tags {
            last_tags.insert(&t.key, stored_run_tag(t));
        }
        for t in last_tags.values() {
            upsert_tag(&mut tx, run_id, t).await?;
        }
        if !metrics.is_empty() {
            // Not grouped: the params and tags commit with them, all or nothing.
            let points: Vec<(&str, &Metric)> = metrics.iter().map(|m| (run_id, m)).collect();
            insert_metrics(&mut tx, &points).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inserts the params not logged yet; a param logged before (or twice
    /// in this batch) with another value is an error, as in MLflow.
    async fn insert_new_params(&self, tx: &mut WriteTx, run_id: &str, params: &[Param]) -> Result<()> {
        let changed = |key: &str, old: &str, new: &str| {
            StoreError::invalid(format!(
                "Changing param values is not allowed. Param with key='{key}' was already logged with \
                 value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'."
            ))
        };
        let mut sql = Sql::new("SELECT key, value FROM params WHERE run_id = ");
        sql.text_arg(run_id).push(" AND key IN ").list(params.iter().map(|p| Arg::Text(p.key.clone())));
        let mut known: BTreeMap<String, String> = BTreeMap::new();
        for row in sql.query_on(self.db.backend).fetch_all(&mut **tx).await? {
            known.insert(text(&row, "key")?, text(&row, "value")?);
        }
        let mut new_rows = Vec::new();
        for p in params {
            match known.get(&p.key) {
                Some(old) if *old != p.value => return Err(changed(&p.key, old, &p.value)),
                Some(_) => {}
                None => {
                    known.insert(p.key.clone(), p.value.clone());
                    new_rows.push(vec![
                        Arg::Text(run_id.into()),
                        Arg::Text(p.key.clone()),
                        Arg::Text(p.value.clone()),
                    ]);
                }
            }
        }
        if !new_rows.is_empty() {
            Sql::insert_rows("params", &["run_id", "key", "value"], new_rows)
                .query_on(self.db.backend)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Removes a tag from a live run; a tag that is not set is
    /// `RESOURCE_DOES_NOT_EXIST`.
    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.require_active_run(run_id).await?;
        let result = Sql::new("DELETE FROM tags WHERE run_id = ")
            .text_arg(run_id)
            .push(" AND key = ")
            .text_arg(key)
            .execute(&self.db.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("No tag with name: {key} in run with id {run_id}")));
        }
        Ok(())
    }

    /// Records data sets a live run used, after those it already has.
    pub async fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        self.require_active_run(run_id).await?;
        let mut tx = self.write().await?;
        let row = Sql::new("SELECT COALESCE(MAX(position), -1) + 1 AS next FROM run_inputs WHERE run_id = ")
            .text_arg(run_id)
            .fetch_one(&mut *tx)
            .await?;
        let first: i64 = row.try_get("next")?;
        for (position, input) in (first..).zip(inputs) {
            let payload = serde_json::to_string(input).map_err(|e| StoreError::internal(e.to_string()))?;
            let values = vec![Arg::Text(run_id.into()), Arg::Int(position), Arg::Text(payload)];
            Sql::insert("run_inputs", &["run_id", "position", "payload"], values).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a model logged in the run, as MLflow 2.x clients report it
    /// (`runs/log-model`, after `log_model` uploaded its files): appended
    /// to the run's `mlflow.log-model.history` tag with what MLflow keeps
    /// of it, the run, time, path and id, and each flavor without its
    /// `config`.
    pub async fn record_logged_model(&self, run_id: &str, model: &Value) -> Result<()> {
        let Some(model) = model.as_object() else {
            return Err(StoreError::invalid("model_json must be a JSON object"));
        };
        let missing: Vec<&str> = ["artifact_path", "flavors", "run_id", "utc_time_created"]
            .into_iter()
            .filter(|field| !model.contains_key(*field))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::invalid(format!(
                "Model json is missing mandatory fields: {}",
                missing.join(", ")
            )));
        }
        let Some(flavors) = model["flavors"].as_object() else {
            return Err(StoreError::invalid("model_json's 'flavors' must be a JSON object"));
        };
        let mut entry: Map<String, Value> = ["run_id", "utc_time_created", "artifact_path", "model_uuid"]
            .into_iter()
            .filter_map(|field| Some((field.to_owned(), model.get(field)?.clone())))
            .collect();
        let flavors = flavors.iter().map(|(name, config)| {
            let mut config = config.clone();
            if let Some(config) = config.as_object_mut() {
                config.remove("config");
            }
            (name.clone(), config)
        });
        entry.insert("flavors".into(), Value::Object(flavors.collect()));

        self.require_active_run(run_id).await?;
        let mut tx = self.write().await?;
        let recorded = Sql::new("SELECT value FROM tags WHERE run_id = ")
            .text_arg(run_id)
            .push(" AND key = ")
            .text_arg(LOGGED_MODELS_TAG)
            .fetch_optional(&mut *tx)
            .await?;
        let mut history: Vec<Value> = match recorded {
            None => Vec::new(),
            Some(row) => serde_json::from_str(row.try_get("value")?).map_err(|e| {
                StoreError::new(
                    ErrorCode::InvalidState,
                    format!(
                        "the run's tag '{LOGGED_MODELS_TAG}' is not a JSON list ({e}): set it to [] first"
                    ),
                )
            })?,
        };
        history.push(Value::Object(entry));
        let value = Value::Array(history).to_string();
        upsert_tag(&mut tx, run_id, &Tag { key: LOGGED_MODELS_TAG.into(), value }).await?;
        tx.commit().await
    }
}
