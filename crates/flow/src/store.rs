//! Pipeline state in the metadata database (the same SQLite or PostgreSQL
//! as tracking): runs, task instances, variables, pauses. The scheduler
//! writes it; task instances only read it (variables, upstream outputs).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use retrain_registry::{Arg, ErrorCode, Sql, SqlStore, StoreError, now_ms, stored};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::redact::{MASK, is_secret_name};
use crate::secrets::{SecretError, SecretKey};
use crate::state::{PipelineRun, RunOrder, RunState, RunType, TaskInstance, TaskState};

/// What the pipeline store answers: the registry's errors, since both
/// live in one database.
pub type Result<T> = std::result::Result<T, StoreError>;

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn run_from_row(row: &AnyRow) -> Result<PipelineRun> {
    let conf: String = row.try_get("conf")?;
    Ok(PipelineRun {
        pipeline: row.try_get("pipeline")?,
        run_id: row.try_get("run_id")?,
        run_type: stored("run type", &row.try_get::<String, _>("run_type")?)?,
        state: stored("run state", &row.try_get::<String, _>("state")?)?,
        interval_start: time(row.try_get("interval_start")?),
        interval_end: time(row.try_get("interval_end")?),
        conf: serde_json::from_str(&conf).unwrap_or_default(),
        owner: row.try_get("owner")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

fn instance_from_row(row: &AnyRow) -> Result<TaskInstance> {
    let state: String = row.try_get("state")?;
    let output: Option<String> = row.try_get("output")?;
    let try_number: i64 = row.try_get("try_number")?;
    let max_tries: i64 = row.try_get("max_tries")?;
    Ok(TaskInstance {
        pipeline: row.try_get("pipeline")?,
        run_id: row.try_get("run_id")?,
        task: row.try_get("task")?,
        state: stored("task state", &state)?,
        try_number: try_number as u32,
        max_tries: max_tries as u32,
        next_attempt_at: row.try_get("next_attempt_at")?,
        first_started_at: row.try_get("first_started_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        pid: row.try_get("pid")?,
        exit_code: row.try_get("exit_code")?,
        message: row.try_get("message")?,
        output: output.and_then(|o| serde_json::from_str(&o).ok()),
    })
}

fn opt_int(v: Option<i64>) -> Arg {
    v.map_or(Arg::NullInt, Arg::Int)
}

fn opt_text(v: Option<String>) -> Arg {
    v.map_or(Arg::NullText, Arg::Text)
}

/// A variable as stored: a secret one's value is its Fernet token when
/// `encrypted`, its clear value when it was set before secrets were
/// encrypted.
#[derive(Clone, PartialEq)]
pub struct Variable {
    /// Its name, `var.KEY` in templates.
    pub key: String,
    /// Its value as stored.
    pub value: String,
    /// Whether `value` is encrypted.
    pub encrypted: bool,
}

impl Variable {
    /// Whether it is secret: encrypted, or named like a secret.
    pub fn is_secret(&self) -> bool {
        self.encrypted || is_secret_name(&self.key)
    }
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.is_secret() { MASK } else { &self.value };
        f.debug_struct("Variable").field("key", &self.key).field("value", &value).finish()
    }
}

fn variable_from_row(row: &AnyRow) -> Result<Variable> {
    Ok(Variable {
        key: row.try_get("key")?,
        value: row.try_get("value")?,
        encrypted: row.try_get::<i64, _>("encrypted")? != 0,
    })
}

fn secret_error(e: SecretError) -> StoreError {
    StoreError::new(ErrorCode::InvalidState, e.to_string())
}

/// Where a page of runs starts (see [`PipelineStore::runs_page`]).
#[derive(Debug, Clone, Copy)]
pub enum RunCursor<'a> {
    /// The newest runs.
    Newest,
    /// The runs older than this one.
    Before(&'a PipelineRun),
    /// The runs newer than this one (the nearest first read, the newest shown first).
    After(&'a PipelineRun),
}

/// Runs, task instances, variables and pauses in the metadata database.
#[derive(Debug, Clone)]
pub struct PipelineStore {
    pub(crate) store: Arc<SqlStore>,
    key: Option<SecretKey>,
}

impl PipelineStore {
    /// The pipeline tables of `store`'s database, without a secret key
    /// (see [`PipelineStore::with_secret_key`]).
    pub fn new(store: Arc<SqlStore>) -> PipelineStore {
        PipelineStore { store, key: None }
    }

    // ----- variables ----------------------------------------------------

    /// The store, able to encrypt and decrypt secret variables with `key`.
    pub fn with_secret_key(self, key: Option<SecretKey>) -> PipelineStore {
        PipelineStore { key, ..self }
    }

    fn secret_key(&self, variable: &str) -> Result<&SecretKey> {
        self.key.as_ref().ok_or_else(|| secret_error(SecretError::NoKey { name: variable.to_owned() }))
    }

    /// Sets a variable (`var.KEY` in templates), replacing its value; a key of
    /// anything but ASCII letters, digits and `_` is refused as invalid. A
    /// secret one (`secret`, or a name [`is_secret_name`] knows) is stored
    /// encrypted with the store's key.
    pub async fn set_variable(&self, key: &str, value: &str, secret: bool) -> Result<()> {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::invalid(format!(
                "variable name '{key}' may use only letters, digits and '_' (templates read it as var.NAME)"
            )));
        }
        let encrypted = secret || is_secret_name(key);
        let stored = if encrypted { self.secret_key(key)?.encrypt(value) } else { value.to_owned() };
        let mut tx = self.store.write().await?;
        tx.execute(Sql::new("DELETE FROM variables WHERE key = ").text_arg(key)).await?;
        tx.execute(&Sql::insert(
            "variables",
            &["key", "value", "encrypted", "updated_at"],
            vec![Arg::Text(key.into()), Arg::Text(stored), Arg::Int(encrypted as i64), Arg::Int(now_ms())],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A variable as stored, `None` when it is not set.
    pub async fn get_variable(&self, key: &str) -> Result<Option<Variable>> {
        let row = self
            .store
            .fetch_optional(
                Sql::new("SELECT key, value, encrypted FROM variables WHERE key = ").text_arg(key),
            )
            .await?;
        row.as_ref().map(variable_from_row).transpose()
    }

    /// Every variable as stored, sorted by key.
    pub async fn variables(&self) -> Result<Vec<Variable>> {
        let rows = self
            .store
            .fetch_all(&Sql::new("SELECT key, value, encrypted FROM variables ORDER BY key"))
            .await?;
        rows.iter().map(variable_from_row).collect()
    }

    /// A variable's clear value: decrypted with the store's key when it
    /// is stored encrypted.
    pub fn clear_value(&self, variable: &Variable) -> Result<String> {
        if !variable.encrypted {
            return Ok(variable.value.clone());
        }
        self.secret_key(&variable.key)?.decrypt(&variable.key, &variable.value).map_err(secret_error)
    }

    /// Deletes a variable; false when there was none.
    pub async fn delete_variable(&self, key: &str) -> Result<bool> {
        let done = self.store.execute(Sql::new("DELETE FROM variables WHERE key = ").text_arg(key)).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Variables as templates see them, secret ones decrypted: JSON values
    /// when they parse as JSON (`0.9`, `true`, `{"a": 1}`), strings
    /// otherwise. With them, the clear values of the secret ones, for the
    /// task's [`Redactor`](crate::redact::Redactor) to mask.
    pub async fn template_variables(&self) -> Result<(Map<String, Value>, Vec<String>)> {
        let mut values = Map::new();
        let mut secrets = Vec::new();
        for variable in self.variables().await? {
            let clear = self.clear_value(&variable)?;
            if variable.is_secret() {
                secrets.push(clear.clone());
            }
            let value = serde_json::from_str(&clear).unwrap_or(Value::String(clear));
            values.insert(variable.key, value);
        }
        Ok((values, secrets))
    }

    /// Re-encrypts every secret variable with `new` (decrypting with the
    /// store's key), and encrypts the ones with a secret name still kept in
    /// clear, in one write transaction: all of them or, on an error, none.
    /// Returns how many were written.
    pub async fn rotate_secret_key(&self, new: &SecretKey) -> Result<usize> {
        let mut tx = self.store.write().await?;
        let rows =
            tx.fetch_all(&Sql::new("SELECT key, value, encrypted FROM variables ORDER BY key")).await?;
        let mut written = 0;
        for row in &rows {
            let variable = variable_from_row(row)?;
            if !variable.is_secret() {
                continue;
            }
            let token = new.encrypt(&self.clear_value(&variable)?);
            tx.execute(
                Sql::new("UPDATE variables SET value = ")
                    .text_arg(token)
                    .push(", encrypted = 1, updated_at = ")
                    .int_arg(now_ms())
                    .push(" WHERE key = ")
                    .text_arg(variable.key),
            )
            .await?;
            written += 1;
        }
        tx.commit().await?;
        Ok(written)
    }

    // ----- pause ------------------------------------------------------------

    /// Pauses or unpauses a pipeline: `retrain up` neither creates
    /// scheduled runs for a paused one nor starts its queued runs.
    pub async fn set_paused(&self, pipeline: &str, paused: bool) -> Result<()> {
        let mut tx = self.store.write().await?;
        Sql::new("DELETE FROM pipelines WHERE name = ").text_arg(pipeline).query().execute(&mut *tx).await?;
        Sql::insert(
            "pipelines",
            &["name", "paused", "updated_at"],
            vec![Arg::Text(pipeline.into()), Arg::Int(paused as i64), Arg::Int(now_ms())],
        )
        .query()
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The names of the paused pipelines.
    pub async fn paused(&self) -> Result<BTreeSet<String>> {
        let rows = self.store.fetch_all(&Sql::new("SELECT name FROM pipelines WHERE paused = 1")).await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    // ----- runs -------------------------------------------------------------

    /// Records a new run; false (and nothing changed) when a run with that
    /// id exists.
    pub async fn insert_run(&self, run: &PipelineRun) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let exists = Sql::new("SELECT run_id FROM pipeline_runs WHERE pipeline = ")
            .text_arg(run.pipeline.clone())
            .push(" AND run_id = ")
            .text_arg(run.run_id.clone())
            .query()
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Ok(false);
        }
        Sql::insert(
            "pipeline_runs",
            &[
                "pipeline",
                "run_id",
                "run_type",
                "state",
                "interval_start",
                "interval_end",
                "conf",
                "owner",
                "created_at",
            ],
            vec![
                Arg::Text(run.pipeline.clone()),
                Arg::Text(run.run_id.clone()),
                Arg::Text(run.run_type.as_ref().into()),
                Arg::Text(run.state.as_ref().into()),
                Arg::Int(run.interval_start.timestamp_millis()),
                Arg::Int(run.interval_end.timestamp_millis()),
                Arg::Text(Value::Object(run.conf.clone()).to_string()),
                Arg::Text(run.owner.clone()),
                Arg::Int(run.created_at),
            ],
        )
        .query()
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The end of the newest interval that has a scheduled or backfilled run.
    pub async fn last_interval_end(&self, pipeline: &str) -> Result<Option<DateTime<Utc>>> {
        let row = self
            .store
            .fetch_one(
                Sql::new("SELECT MAX(interval_end) AS last_end FROM pipeline_runs WHERE run_type <> ")
                    .text_arg(RunType::Manual.as_ref())
                    .push(" AND pipeline = ")
                    .text_arg(pipeline),
            )
            .await?;
        let last: Option<i64> = row.try_get("last_end")?;
        Ok(last.map(time))
    }

    pub(crate) async fn has_runs(&self, pipeline: &str) -> Result<bool> {
        let row = self
            .store
            .fetch_optional(
                Sql::new("SELECT run_id FROM pipeline_runs WHERE pipeline = ")
                    .text_arg(pipeline)
                    .push(" LIMIT 1"),
            )
            .await?;
        Ok(row.is_some())
    }

    /// Queued and running runs driven by `owner`, oldest interval first.
    pub async fn active_runs(&self, owner: &str) -> Result<Vec<PipelineRun>> {
        let rows = self
            .store
            .fetch_all(
                Sql::new("SELECT * FROM pipeline_runs WHERE state IN (")
                    .text_arg(RunState::Queued.as_ref())
                    .push(", ")
                    .text_arg(RunState::Running.as_ref())
                    .push(") AND owner = ")
                    .text_arg(owner)
                    .push(" ORDER BY interval_start, created_at"),
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// When the newest run waiting for `owner` was created (a cheap check
    /// the scheduler makes often, so a triggered run starts at once).
    pub async fn newest_queued(&self, owner: &str) -> Result<Option<i64>> {
        let row = self
            .store
            .fetch_one(
                Sql::new("SELECT MAX(created_at) AS newest FROM pipeline_runs WHERE state = ")
                    .text_arg(RunState::Queued.as_ref())
                    .push(" AND owner = ")
                    .text_arg(owner),
            )
            .await?;
        Ok(row.try_get("newest")?)
    }

    /// A run by its pipeline and id, `None` when there is none.
    pub async fn get_run(&self, pipeline: &str, run_id: &str) -> Result<Option<PipelineRun>> {
        let row = self
            .store
            .fetch_optional(
                Sql::new("SELECT * FROM pipeline_runs WHERE pipeline = ")
                    .text_arg(pipeline)
                    .push(" AND run_id = ")
                    .text_arg(run_id),
            )
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The newest runs of a pipeline.
    pub async fn recent_runs(&self, pipeline: &str, limit: i64) -> Result<Vec<PipelineRun>> {
        self.runs(pipeline, RunOrder::IntervalStart, true, limit, 0).await
    }

    /// One page of a pipeline's runs in the given order (ties by creation).
    pub async fn runs(
        &self,
        pipeline: &str,
        order: RunOrder,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PipelineRun>> {
        let direction = if descending { " DESC" } else { "" };
        let rows = self
            .store
            .fetch_all(
                Sql::new("SELECT * FROM pipeline_runs WHERE pipeline = ")
                    .text_arg(pipeline)
                    .push(&format!(" ORDER BY {}{direction}, created_at{direction} LIMIT ", order.column()))
                    .int_arg(limit)
                    .push(" OFFSET ")
                    .int_arg(offset),
            )
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// At most `limit` runs of a pipeline next to `cursor`, the newest
    /// interval first (ties by creation, then id): the page a grid shows,
    /// read by its bounds rather than an offset so that paging far back
    /// stays as fast as the first page.
    pub async fn runs_page(
        &self,
        pipeline: &str,
        cursor: RunCursor<'_>,
        limit: i64,
    ) -> Result<Vec<PipelineRun>> {
        let mut sql = Sql::new("SELECT * FROM pipeline_runs WHERE pipeline = ");
        sql.text_arg(pipeline);
        let (bound, comparison, direction) = match cursor {
            RunCursor::Newest => (None, "", " DESC"),
            RunCursor::Before(run) => (Some(run), "<", " DESC"),
            RunCursor::After(run) => (Some(run), ">", ""),
        };
        if let Some(run) = bound {
            let start = run.interval_start.timestamp_millis();
            sql.push(&format!(" AND (interval_start {comparison} "))
                .int_arg(start)
                .push(" OR (interval_start = ")
                .int_arg(start)
                .push(&format!(" AND (created_at {comparison} "))
                .int_arg(run.created_at)
                .push(" OR (created_at = ")
                .int_arg(run.created_at)
                .push(&format!(" AND run_id {comparison} "))
                .text_arg(run.run_id.clone())
                .push("))))");
        }
        sql.push(&format!(
            " ORDER BY interval_start{direction}, created_at{direction}, run_id{direction} LIMIT "
        ))
        .int_arg(limit);
        let mut runs: Vec<PipelineRun> =
            self.store.fetch_all(&sql).await?.iter().map(run_from_row).collect::<Result<_>>()?;
        if matches!(cursor, RunCursor::After(_)) {
            runs.reverse();
        }
        Ok(runs)
    }

    /// How many runs a pipeline has, in any state.
    pub async fn count_runs(&self, pipeline: &str) -> Result<i64> {
        let row = self
            .store
            .fetch_one(
                Sql::new("SELECT COUNT(*) AS runs FROM pipeline_runs WHERE pipeline = ").text_arg(pipeline),
            )
            .await?;
        Ok(row.try_get("runs")?)
    }

    /// Whether the database answers.
    pub async fn reachable(&self) -> bool {
        self.store.fetch_one(&Sql::new("SELECT 1 AS one")).await.is_ok()
    }

    /// Starts a queued run: its state becomes running and every task gets
    /// an instance, in one transaction.
    pub async fn start_run(&self, run: &PipelineRun, tasks: &[(String, u32)]) -> Result<()> {
        let mut tx = self.store.write().await?;
        Sql::new("UPDATE pipeline_runs SET state = ")
            .text_arg(RunState::Running.as_ref())
            .push(", started_at = ")
            .int_arg(now_ms())
            .push(" WHERE pipeline = ")
            .text_arg(run.pipeline.clone())
            .push(" AND run_id = ")
            .text_arg(run.run_id.clone())
            .query()
            .execute(&mut *tx)
            .await?;
        let rows: Vec<Vec<Arg>> = tasks
            .iter()
            .map(|(task, max_tries)| {
                vec![
                    Arg::Text(run.pipeline.clone()),
                    Arg::Text(run.run_id.clone()),
                    Arg::Text(task.clone()),
                    Arg::Text(TaskState::NoState.as_str().into()),
                    Arg::Int(0),
                    Arg::Int(*max_tries as i64),
                ]
            })
            .collect();
        if !rows.is_empty() {
            Sql::insert_rows(
                "task_instances",
                &["pipeline", "run_id", "task", "state", "try_number", "max_tries"],
                rows,
            )
            .query()
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a run in `state` (success or failed).
    pub async fn finish_run(&self, pipeline: &str, run_id: &str, state: RunState) -> Result<()> {
        self.store
            .execute(
                Sql::new("UPDATE pipeline_runs SET state = ")
                    .text_arg(state.as_ref())
                    .push(", ended_at = ")
                    .int_arg(now_ms())
                    .push(" WHERE pipeline = ")
                    .text_arg(pipeline)
                    .push(" AND run_id = ")
                    .text_arg(run_id),
            )
            .await?;
        Ok(())
    }

    // ----- task instances -----------------------------------------------

    /// The task instances of a run, in no particular order; empty when the run
    /// has not started or does not exist.
    pub async fn task_instances(&self, pipeline: &str, run_id: &str) -> Result<Vec<TaskInstance>> {
        let rows = self
            .store
            .fetch_all(
                Sql::new("SELECT * FROM task_instances WHERE pipeline = ")
                    .text_arg(pipeline)
                    .push(" AND run_id = ")
                    .text_arg(run_id),
            )
            .await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// The task instances of several runs of a pipeline, in no particular order.
    pub async fn task_instances_of_runs(
        &self,
        pipeline: &str,
        run_ids: &[String],
    ) -> Result<Vec<TaskInstance>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("SELECT * FROM task_instances WHERE pipeline = ");
        sql.text_arg(pipeline).push(" AND run_id IN ").list(run_ids.iter().cloned().map(Arg::Text));
        let rows = self.store.fetch_all(&sql).await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// Task instances of every pipeline that failed for good at or after
    /// `since` (epoch ms), the newest first, at most `limit`.
    pub async fn failures_since(&self, since: i64, limit: i64) -> Result<Vec<TaskInstance>> {
        let rows = self
            .store
            .fetch_all(
                Sql::new("SELECT * FROM task_instances WHERE state = ")
                    .text_arg(TaskState::Failed.as_str())
                    .push(" AND ended_at >= ")
                    .int_arg(since)
                    .push(" ORDER BY ended_at DESC LIMIT ")
                    .int_arg(limit),
            )
            .await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// Writes every mutable column of a task instance.
    pub async fn save(&self, ti: &TaskInstance) -> Result<()> {
        let mut sql = Sql::new("UPDATE task_instances SET state = ");
        sql.text_arg(ti.state.as_str())
            .push(", try_number = ")
            .int_arg(ti.try_number as i64)
            .push(", next_attempt_at = ")
            .arg(opt_int(ti.next_attempt_at))
            .push(", first_started_at = ")
            .arg(opt_int(ti.first_started_at))
            .push(", started_at = ")
            .arg(opt_int(ti.started_at))
            .push(", ended_at = ")
            .arg(opt_int(ti.ended_at))
            .push(", pid = ")
            .arg(opt_int(ti.pid))
            .push(", exit_code = ")
            .arg(opt_int(ti.exit_code))
            .push(", message = ")
            .arg(opt_text(ti.message.clone()))
            .push(", output = ")
            .arg(opt_text(ti.output.as_ref().map(Value::to_string)))
            .push(" WHERE pipeline = ")
            .text_arg(ti.pipeline.clone())
            .push(" AND run_id = ")
            .text_arg(ti.run_id.clone())
            .push(" AND task = ")
            .text_arg(ti.task.clone());
        self.store.execute(&sql).await?;
        Ok(())
    }

    /// The run of `pipeline` for the interval starting at `start` that
    /// succeeded (or whose `task` did), if any.
    pub async fn succeeded_for_interval(
        &self,
        pipeline: &str,
        task: Option<&str>,
        start: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let mut sql = Sql::new("SELECT r.run_id FROM pipeline_runs r WHERE r.pipeline = ");
        sql.text_arg(pipeline).push(" AND r.interval_start = ").int_arg(start.timestamp_millis());
        match task {
            Some(task) => {
                sql.push(" AND EXISTS (SELECT 1 FROM task_instances t WHERE t.pipeline = r.pipeline AND t.run_id = r.run_id AND t.state = ")
                    .text_arg(TaskState::Success.as_str())
                    .push(" AND t.task = ")
                    .text_arg(task)
                    .push(")");
            }
            None => {
                sql.push(" AND r.state = ").text_arg(RunState::Success.as_ref());
            }
        }
        let row = self.store.fetch_optional(sql.push(" LIMIT 1")).await?;
        Ok(row.map(|r| r.try_get("run_id")).transpose()?)
    }
}
