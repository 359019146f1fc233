//! `SqlStore`: the tracking store on SQLite (WAL) or PostgreSQL through
//! sqlx, with one set of migrations applied on start.
//!
//! Semantics follow MLflow's SQL store: IDs are strings on the wire,
//! parameters are immutable once logged, only active runs take new data,
//! `runs/get` shows the latest value of each metric (highest step, then
//! latest timestamp) and searches compare those latest values.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::entities::*;
use crate::error::{ErrorCode, Result, StoreError};
use crate::filter;
use crate::sql::{Arg, AttributeColumns, Page, Sql, metric_condition, runs_where};

/// The schema's migrations, in order. One marked with an engine is in
/// that engine's dialect and runs there alone; the other engine records
/// its version all the same, so a version means one thing on both.
const MIGRATIONS: [(i64, Option<Backend>, &str); 6] = [
    (1, None, include_str!("../migrations/0001_tracking.sql")),
    (2, None, include_str!("../migrations/0002_models.sql")),
    (3, None, include_str!("../migrations/0003_pipelines.sql")),
    (4, None, include_str!("../migrations/0004_staged_metrics.sql")),
    (5, Some(Backend::Sqlite), include_str!("../migrations/0005_sqlite_metric_ranges.sql")),
    (6, Some(Backend::Sqlite), include_str!("../migrations/0006_sqlite_clustered_run_values.sql")),
];

/// MLflow's limits on one `log-batch` request.
pub const MAX_BATCH_METRICS: usize = 1000;
pub const MAX_BATCH_PARAMS: usize = 100;
pub const MAX_BATCH_TAGS: usize = 100;

const RUN_ATTRIBUTES: AttributeColumns = AttributeColumns {
    columns: &[
        ("run_id", "r.run_id", false),
        ("run_name", "r.run_name", false),
        ("status", "r.status", false),
        ("user_id", "r.user_id", false),
        ("artifact_uri", "r.artifact_uri", false),
        ("start_time", "r.start_time", true),
        ("end_time", "r.end_time", true),
    ],
};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct SqlStore {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Where new experiments put artifacts, e.g. `mlflow-artifacts:`.
    artifact_root: String,
    /// Opens write transactions (and commits grouped metric points).
    writer: Writer,
    /// Metric points waiting for the next group commit (started on the
    /// first metric write, in the runtime that makes it).
    metric_queue: OnceLock<mpsc::UnboundedSender<PendingMetrics>>,
    /// SQLite: the task that checkpoints the write-ahead log and moves
    /// staged metric points.
    maintenance: Option<tokio::task::AbortHandle>,
}

impl Drop for SqlStore {
    fn drop(&mut self) {
        if let Some(maintenance) = &self.maintenance {
            maintenance.abort();
        }
    }
}

/// Every 200 ms: copies the write-ahead log into the database file, and
/// moves staged metric points into the history once
/// [`STAGED_METRICS_MOVE_AT`] have gathered or writes have paused (a
/// check that finds as many as the last), so a read of a history scans a
/// bounded number, none once writes stop, and a steady stream of small
/// writes is not held up by a move every so often. A passive checkpoint
/// waits for no one: writers and readers go on while it copies and syncs,
/// so no request pays for it (SQLite's automatic checkpoint runs inside
/// the commit that crosses its threshold, and syncs the file there). A
/// process that exits before its next checkpoint leaves the rest to the
/// last connection's close or the next opener.
async fn maintain_regularly(writer: Writer) {
    const EVERY: std::time::Duration = std::time::Duration::from_millis(200);
    // Not at once: a short-lived process (a task instance) should not start with one.
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut staged_before = 0;
    loop {
        every.tick().await;
        if let Err(e) = writer.checkpoint().await {
            tracing::warn!("checkpoint of the write-ahead log failed (retried): {e}");
        }
        match writer.staged_metrics().await {
            Ok(staged) if staged >= STAGED_METRICS_MOVE_AT || (staged > 0 && staged == staged_before) => {
                staged_before = 0;
                if let Err(e) = writer.move_staged_metrics().await {
                    tracing::warn!("moving staged metric points into the history failed (retried): {e}");
                }
            }
            Ok(staged) => staged_before = staged,
            Err(e) => tracing::warn!("counting staged metric points failed (retried): {e}"),
        }
    }
}

/// The write-ahead log's length, in pages, past which a checkpoint makes
/// it start over (64 MiB of 4 KiB pages).
const WAL_RESTART_PAGES: i64 = 16_384;

/// Metric points of one request, and where its outcome goes.
struct PendingMetrics {
    run_id: String,
    metrics: Vec<Metric>,
    done: oneshot::Sender<Result<()>>,
}

/// A group commit stops taking requests once it holds this many points
/// (a request is never split: at most this plus one request's 1,000).
const GROUP_COMMIT_POINTS: usize = 2000;

/// What opens write transactions: the pool, its engine and the turn.
#[derive(Clone)]
struct Writer {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time: this process's writers queue
    /// here, in order, instead of in SQLite's busy handler, which polls
    /// with sleeps of up to 100 ms and lets a late writer overtake.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Writer {
    async fn begin(&self) -> Result<WriteTx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.turn.clone().lock_owned().await;
                WriteTx { tx: self.pool.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn) }
            }
            Backend::Postgres => WriteTx { tx: self.pool.begin().await?, _turn: None },
        })
    }

    /// Commits metric points of many requests at once: while one group
    /// commits, the next gathers, so concurrent writers share a commit
    /// (and its write-ahead-log pages) instead of taking turns. Each
    /// request gets its own outcome: its run is checked in the group's
    /// transaction, and its keys before it queues.
    async fn commit_metrics(self, mut queue: mpsc::UnboundedReceiver<PendingMetrics>) {
        while let Some(first) = queue.recv().await {
            let mut points = first.metrics.len();
            let mut group = vec![first];
            while points < GROUP_COMMIT_POINTS {
                let Ok(next) = queue.try_recv() else { break };
                points += next.metrics.len();
                group.push(next);
            }
            // What is left to fail is the database's, not one request's
            // points, so every request in the group shares it: retrying
            // them one by one would only repeat it, a busy timeout included.
            let outcomes = match self.commit_group(&group).await {
                Ok(outcomes) => outcomes,
                Err(error) => vec![Err(error); group.len()],
            };
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.done.send(outcome);
            }
        }
    }

    /// A passive checkpoint. The log starts over from its beginning only
    /// when a writer finds every page of it copied and no reader using it,
    /// which a steady stream of writes never allows: it would grow without
    /// end (and every append would extend the file). Past
    /// [`WAL_RESTART_PAGES`], this process's writers wait while a
    /// restarting checkpoint copies the rest and waits out the readers, so
    /// the next commit writes from the log's start (and trims the file to
    /// `journal_size_limit`).
    async fn checkpoint(&self) -> Result<()> {
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.pool).await?;
        let log_pages: i64 = row.try_get(1)?;
        if log_pages >= WAL_RESTART_PAGES {
            let _turn = self.turn.lock().await;
            sqlx::query("PRAGMA wal_checkpoint(RESTART)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// How many metric points are staged. Staged rows are only ever
    /// deleted all at once, so the last rowid counts them.
    async fn staged_metrics(&self) -> Result<i64> {
        let staged: Option<i64> =
            sqlx::query_scalar("SELECT MAX(rowid) FROM metrics_staged").fetch_one(&self.pool).await?;
        Ok(staged.unwrap_or(0))
    }

    /// Moves the staged metric points into the history, in one write
    /// transaction, so no point can be staged between the copy and the
    /// delete: appended sorted by run and key, each key's points of this
    /// move are one range of rowids, recorded in `metric_ranges` (see
    /// `migrations/0005_sqlite_metric_ranges.sql`).
    async fn move_staged_metrics(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let appended_after: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM metrics").fetch_one(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO metrics (run_id, key, value, is_nan, timestamp, step) \
             SELECT run_id, key, value, is_nan, timestamp, step FROM metrics_staged \
             ORDER BY run_id, key, step, timestamp",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO metric_ranges (run_id, key, first_rowid, last_rowid) \
             SELECT run_id, key, MIN(rowid), MAX(rowid) FROM metrics WHERE rowid > ? GROUP BY run_id, key",
        )
        .bind(appended_after)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM metrics_staged").execute(&mut *tx).await?;
        tx.commit().await
    }

    /// Commits the points of every request whose run is active, and says
    /// for each request in `group` whether its points landed. The runs are
    /// checked here, in the write transaction, by one query for the whole
    /// group rather than one per request before it queues.
    async fn commit_group(&self, group: &[PendingMetrics]) -> Result<Vec<Result<()>>> {
        let mut tx = self.begin().await?;
        let mut runs: Vec<&str> = group.iter().map(|p| p.run_id.as_str()).collect();
        runs.sort_unstable();
        runs.dedup();
        let mut sql = Sql::new("SELECT run_id, lifecycle_stage FROM runs WHERE run_id IN ");
        sql.list(runs.into_iter().map(|id| Arg::Text(id.into())));
        let stages = sql
            .query_on(self.backend)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok((text(row, "run_id")?, text(row, "lifecycle_stage")?)))
            .collect::<Result<HashMap<String, String>>>()?;
        let outcomes: Vec<Result<()>> = group
            .iter()
            .map(|p| check_active_run(&p.run_id, stages.get(&p.run_id).map(String::as_str)))
            .collect();
        let points: Vec<(&str, &Metric)> = group
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_ok())
            .flat_map(|(p, _)| p.metrics.iter().map(|m| (p.run_id.as_str(), m)))
            .collect();
        if !points.is_empty() {
            insert_metrics(&mut tx, self.backend, &points).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// SQLite: staged metric points are moved into `metrics` by the first
/// check (every 200 ms) that finds this many, or when writes pause (see
/// `migrations/0004_staged_metrics.sql`). Reads of a history scan the
/// staged points, so this bounds what they scan.
const STAGED_METRICS_MOVE_AT: i64 = 50_000;

/// Appends metric points to their history and moves each key's latest
/// point forward (highest step, then latest timestamp).
async fn insert_metrics(tx: &mut WriteTx, backend: Backend, points: &[(&str, &Metric)]) -> Result<()> {
    const COLUMNS: [&str; 6] = ["run_id", "key", "value", "is_nan", "timestamp", "step"];
    let row = |run_id: &str, m: &Metric| {
        let (value, is_nan) = stored_value(m.value);
        vec![
            Arg::Text(run_id.into()),
            Arg::Text(m.key.clone()),
            value.map_or(Arg::NullFloat, Arg::Float),
            Arg::Int(is_nan),
            Arg::Int(m.timestamp),
            Arg::Int(m.step),
        ]
    };
    let history = match backend {
        Backend::Sqlite => "metrics_staged",
        Backend::Postgres => "metrics",
    };
    Sql::insert_rows(history, &COLUMNS, points.iter().map(|(run_id, m)| row(run_id, m)).collect())
        .query_on(backend)
        .execute(&mut **tx)
        .await?;
    // One upsert row per run and key (a statement may not touch a row
    // twice): the group's own latest point, then compared with the
    // stored one.
    let mut latest: BTreeMap<(&str, &str), &Metric> = BTreeMap::new();
    for &(run_id, m) in points {
        let newer = latest
            .get(&(run_id, m.key.as_str()))
            .is_none_or(|l| (m.step, m.timestamp) >= (l.step, l.timestamp));
        if newer {
            latest.insert((run_id, &m.key), m);
        }
    }
    let mut upsert = Sql::insert_rows(
        "latest_metrics",
        &COLUMNS,
        latest.iter().map(|((run_id, _), m)| row(run_id, m)).collect(),
    );
    upsert.push(
        " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
         timestamp = excluded.timestamp, step = excluded.step \
         WHERE excluded.step > latest_metrics.step \
         OR (excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp)",
    );
    upsert.query_on(backend).execute(&mut **tx).await?;
    Ok(())
}

/// A write transaction (see [`SqlStore::write`]): use it as the
/// connection (`&mut *tx`), then [`WriteTx::commit`]. Dropped without a
/// commit, it rolls back.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Released after the transaction has ended (fields drop in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Turns MLflow-style URIs into sqlx URLs: `sqlite:///rel.db` (relative),
/// `sqlite:////abs.db` (absolute), `postgresql://…` as is.
fn database_url(uri: &str) -> Result<(String, Backend)> {
    if let Some(path) = uri.strip_prefix("sqlite:///") {
        if path.is_empty() {
            return Err(StoreError::invalid("sqlite URI needs a file path, e.g. sqlite:///mlflow.db"));
        }
        if let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::internal(format!("cannot create {}: {e}", parent.display())))?;
        }
        return Ok((format!("sqlite://{path}?mode=rwc"), Backend::Sqlite));
    }
    if uri.starts_with("postgresql://") || uri.starts_with("postgres://") {
        return Ok((uri.to_string(), Backend::Postgres));
    }
    Err(StoreError::invalid(format!(
        "unsupported backend store URI '{uri}'; use sqlite:///PATH or postgresql://USER@HOST/DB"
    )))
}

pub(crate) fn parse_experiment_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| StoreError::not_found(format!("No Experiment with id={id} exists")))
}

fn run_not_found(run_id: &str) -> StoreError {
    StoreError::not_found(format!("Run with id={run_id} not found"))
}

/// Whether points, params or tags can be logged to `run_id`, whose
/// lifecycle stage is `stage` (`None`: there is no such run).
fn check_active_run(run_id: &str, stage: Option<&str>) -> Result<()> {
    match stage {
        None => Err(run_not_found(run_id)),
        Some(ACTIVE) => Ok(()),
        Some(stage) => Err(StoreError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is {stage}."
        ))),
    }
}

/// The run tag listing the models logged in a run (MLflow 2.x).
const LOGGED_MODELS_TAG: &str = "mlflow.log-model.history";

/// MLflow's length limits, counted in characters (Python's `len`) as it
/// does. An over-long param or run tag value keeps its start: MLflow's
/// default (`MLFLOW_TRUNCATE_LONG_VALUES`) truncates those with a warning,
/// and its client sends them unchecked, so refusing them would fail a
/// `log_param` that works against MLflow. Past the other limits MLflow
/// refuses, and so does this store.
const MAX_KEY_CHARS: usize = 250;
const MAX_PARAM_VALUE_CHARS: usize = 6000;
const MAX_RUN_TAG_VALUE_CHARS: usize = 8000;
const MAX_EXPERIMENT_NAME_CHARS: usize = 500;
const MAX_EXPERIMENT_TAG_VALUE_CHARS: usize = 20_000;
pub(crate) const MAX_MODEL_TAG_VALUE_CHARS: usize = 100_000;

/// Refuses a `field` longer than `limit` characters, in MLflow's words.
fn check_length(field: &str, value: &str, limit: usize) -> Result<()> {
    if value.chars().nth(limit).is_some() {
        return Err(StoreError::invalid(format!("{field} exceeds the maximum length of {limit} characters")));
    }
    Ok(())
}

/// `value`'s first `limit` characters, with a warning when that cuts it.
fn truncated<'a>(kind: &str, key: &str, value: &'a str, limit: usize) -> &'a str {
    let Some((end, _)) = value.char_indices().nth(limit) else { return value };
    tracing::warn!(
        "{kind} '{key}': a value of {} characters was truncated to {limit}, as MLflow does",
        value.chars().count()
    );
    &value[..end]
}

/// A param as the store keeps it (see [`MAX_PARAM_VALUE_CHARS`]).
fn stored_param(p: &Param) -> Param {
    Param { key: p.key.clone(), value: truncated("param", &p.key, &p.value, MAX_PARAM_VALUE_CHARS).into() }
}

/// A run tag as the store keeps it (see [`MAX_RUN_TAG_VALUE_CHARS`]).
fn stored_run_tag(t: &Tag) -> Tag {
    Tag { key: t.key.clone(), value: truncated("tag", &t.key, &t.value, MAX_RUN_TAG_VALUE_CHARS).into() }
}

/// A `kind` of tag whose value MLflow refuses past `max_value_chars`.
pub(crate) fn check_tag(kind: &str, tag: &Tag, max_value_chars: usize) -> Result<()> {
    check_key(kind, &tag.key)?;
    check_length(&format!("The value of {kind} '{}'", tag.key), &tag.value, max_value_chars)
}

/// A metric, param or tag key as MLflow accepts it: 1 to 250 letters,
/// digits and `_ - . : /` or spaces, and nothing that names another key
/// when read as a path (`a/../b`, `/a`, `a//b`, `a/`): MLflow refuses
/// those, and a client written against it never sends them.
pub(crate) fn check_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.chars().nth(MAX_KEY_CHARS).is_some() {
        return Err(StoreError::invalid(format!(
            "{kind} key must be 1 to {MAX_KEY_CHARS} characters, got '{key}'"
        )));
    }
    if let Some(bad) = key.chars().find(|&c| !(c.is_alphanumeric() || "_-.:/ ".contains(c))) {
        return Err(StoreError::invalid(format!(
            "Invalid {kind} key {key:?}: {bad:?} is not allowed; keys may only contain alphanumerics, \
             underscores (_), dashes (-), periods (.), colons (:), spaces ( ) and slashes (/)"
        )));
    }
    let resolves_elsewhere = key.starts_with('/')
        || key.starts_with("..")
        || key.split('/').any(|part| matches!(part, "" | "." | ".."));
    if resolves_elsewhere {
        return Err(StoreError::invalid(format!(
            "Invalid {kind} key {key:?}: read as a path, it would name another key \
             (no leading '/', empty, '.' or '..' parts)"
        )));
    }
    Ok(())
}

pub(crate) fn stored_value(v: f64) -> (Option<f64>, i64) {
    if v.is_nan() { (None, 1) } else { (Some(v), 0) }
}

/// A text column of `row`. sqlx's Any driver decodes a `String` by
/// formatting its shared copy (`to_string`); borrowing the text and copying
/// it is a plain copy, which a page of runs does thousands of times.
pub(crate) fn text(row: &AnyRow, column: &str) -> Result<String> {
    Ok(row.try_get::<&str, _>(column)?.to_owned())
}

pub(crate) fn metric_from_row(row: &AnyRow) -> Result<Metric> {
    // NaN is stored as NULL (`stored_value`).
    let value: Option<f64> = row.try_get("value")?;
    Ok(Metric {
        key: text(row, "key")?,
        value: value.unwrap_or(f64::NAN),
        timestamp: row.try_get("timestamp")?,
        step: row.try_get("step")?,
    })
}

impl SqlStore {
    /// Connects, applies migrations and makes sure experiment 0
    /// ("Default") exists. `artifact_root` prefixes new experiments'
    /// artifact locations (`mlflow-artifacts:` when the server proxies).
    pub async fn connect(uri: &str, artifact_root: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (url, backend) = database_url(uri)?;
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // A pooled SQLite connection is a file handle that cannot go
            // stale, and pinging it before every use is a round trip to its
            // worker thread: a search made four. A PostgreSQL connection
            // can be dropped by the server, so it is still checked.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // One round trip for all of them. Checkpoints run in the
                        // background (`maintain_regularly`), not in whichever
                        // request's commit crosses the threshold; a burst of writes
                        // may grow the log, which shrinks back when it restarts.
                        // Temporary storage in memory: a multi-row statement keeps
                        // the pages it changes in a statement journal (to undo
                        // itself alone), which past 64 KiB went to a temporary file,
                        // created, written and deleted in every commit.
                        sqlx::raw_sql(
                            "PRAGMA busy_timeout = 10000; PRAGMA case_sensitive_like = ON; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 33554432; \
                             PRAGMA temp_store = MEMORY;",
                        )
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| StoreError::internal(format!("cannot open backend store '{uri}': {e}")))?;
        let writer = Writer { pool: pool.clone(), backend, turn: Arc::default() };
        let maintenance = match backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
                Some(tokio::spawn(maintain_regularly(writer.clone())).abort_handle())
            }
            Backend::Postgres => None,
        };
        let store = SqlStore {
            writer,
            pool,
            backend,
            artifact_root: artifact_root.trim_end_matches('/').to_string(),
            metric_queue: OnceLock::new(),
            maintenance,
        };
        store.migrate().await?;
        store.ensure_default_experiment().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the other parts of the system that keep
    /// their state in the same database (the pipeline scheduler).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction. On SQLite it waits for this process's other
    /// writers first, then takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a transaction that has read never fails upgrading
    /// to writing; writers in other processes wait on `busy_timeout`.
    pub async fn write(&self) -> Result<WriteTx> {
        self.writer.begin().await
    }

    /// Metric points only (the common case: `log-metric`, a batch of
    /// metrics): committed together with other requests' points.
    async fn log_metrics_grouped(&self, run_id: &str, metrics: &[Metric]) -> Result<()> {
        let queue = self.metric_queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(self.writer.clone().commit_metrics(receiver));
            sender
        });
        let (done, outcome) = oneshot::channel();
        let pending = PendingMetrics { run_id: run_id.to_string(), metrics: metrics.to_vec(), done };
        queue.send(pending).map_err(|_| StoreError::internal("the metric writer has stopped"))?;
        outcome.await.map_err(|_| StoreError::internal("the metric writer has stopped"))?
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS retrain_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        // Most starts find everything applied: one read, no write lock.
        let applied: Vec<i64> = sqlx::query("SELECT version FROM retrain_schema")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| row.try_get("version"))
            .collect::<std::result::Result<_, _>>()?;
        for (version, engine, script) in MIGRATIONS {
            if applied.contains(&version) {
                continue;
            }
            let mut tx = self.write().await?;
            let applied = Sql::new("SELECT version FROM retrain_schema WHERE version = ")
                .int_arg(version)
                .query()
                .fetch_optional(&mut *tx)
                .await?;
            if applied.is_some() {
                continue;
            }
            if engine.is_none_or(|engine| engine == self.backend) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut *tx).await?;
            }
            Sql::insert(
                "retrain_schema",
                &["version", "applied_at"],
                vec![Arg::Int(version), Arg::Int(now_ms())],
            )
            .query()
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version, "applied tracking schema migration");
        }
        Ok(())
    }

    async fn ensure_default_experiment(&self) -> Result<()> {
        let exists = sqlx::query("SELECT experiment_id FROM experiments WHERE experiment_id = 0")
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            let location = format!("{}/0", self.artifact_root);
            let result = insert_experiment(0, "Default", &location).query().execute(&self.pool).await;
            // Another process may have created it at the same moment.
            if let Err(e) = result {
                let err = StoreError::from(e);
                if err.code != ErrorCode::ResourceAlreadyExists {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    // ----- experiments -------------------------------------------------

    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<String> {
        if name.trim().is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'name'"));
        }
        check_length("'name'", name, MAX_EXPERIMENT_NAME_CHARS)?;
        for tag in tags {
            check_tag("experiment tag", tag, MAX_EXPERIMENT_TAG_VALUE_CHARS)?;
        }
        // Allocate max + 1; a concurrent creator makes the insert fail on
        // the primary key and we try again.
        for _ in 0..5 {
            let mut tx = self.write().await?;
            let taken = Sql::new("SELECT experiment_id FROM experiments WHERE name = ")
                .text_arg(name)
                .query()
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::exists(format!("Experiment '{name}' already exists.")));
            }
            let row = sqlx::query("SELECT COALESCE(MAX(experiment_id), -1) + 1 AS next FROM experiments")
                .fetch_one(&mut *tx)
                .await?;
            let id: i64 = row.try_get("next")?;
            let location = match artifact_location.filter(|l| !l.is_empty()) {
                Some(l) => l.to_string(),
                None => format!("{}/{id}", self.artifact_root),
            };
            let inserted = insert_experiment(id, name, &location).query().execute(&mut *tx).await;
            match inserted {
                Ok(_) => {}
                Err(e) => {
                    let err = StoreError::from(e);
                    if err.code == ErrorCode::ResourceAlreadyExists {
                        continue;
                    }
                    return Err(err);
                }
            }
            for tag in tags {
                set_tag_in(&mut tx, "experiment_tags", &[("experiment_id", Arg::Int(id))], tag).await?;
            }
            tx.commit().await?;
            return Ok(id.to_string());
        }
        Err(StoreError::internal("could not allocate an experiment id under concurrent creation"))
    }

    async fn experiment_from_row(&self, row: &AnyRow) -> Result<Experiment> {
        let id: i64 = row.try_get("experiment_id")?;
        let tags = Sql::new("SELECT key, value FROM experiment_tags WHERE experiment_id = ")
            .int_arg(id)
            .push(" ORDER BY key")
            .query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|t| Ok(Tag { key: text(t, "key")?, value: text(t, "value")? }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Experiment {
            experiment_id: id.to_string(),
            name: text(row, "name")?,
            artifact_location: text(row, "artifact_location")?,
            lifecycle_stage: text(row, "lifecycle_stage")?,
            creation_time: row.try_get("creation_time")?,
            last_update_time: row.try_get("last_update_time")?,
            tags,
        })
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = parse_experiment_id(experiment_id)?;
        let row = Sql::new("SELECT * FROM experiments WHERE experiment_id = ")
            .int_arg(id)
            .query()
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("No Experiment with id={experiment_id} exists")))?;
        self.experiment_from_row(&row).await
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let row = Sql::new("SELECT * FROM experiments WHERE name = ")
            .text_arg(name)
            .query()
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Could not find experiment with name '{name}'")))?;
        self.experiment_from_row(&row).await
    }

    /// Experiments matching `filter` (on `name`, `tags.KEY`, times),
    /// newest first unless `order_by` says otherwise.
    pub async fn search_experiments(
        &self,
        view: ViewType,
        filter: Option<&str>,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<(Vec<Experiment>, Option<String>)> {
        const ATTRIBUTES: AttributeColumns = AttributeColumns {
            columns: &[
                ("name", "e.name", false),
                ("experiment_id", "e.experiment_id", true),
                ("creation_time", "e.creation_time", true),
                ("last_update_time", "e.last_update_time", true),
            ],
        };
        let page = Page::new(max_results, 1000, page_token)?;
        let mut sql = Sql::new("SELECT e.* FROM experiments e WHERE 1 = 1");
        lifecycle_condition(&mut sql, "e.lifecycle_stage", view);
        for clause in filter::parse(filter.unwrap_or(""))? {
            sql.push(" AND ");
            match clause.entity {
                filter::Entity::Tag => {
                    sql.push("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ")
                        .text_arg(clause.key.clone())
                        .push(" AND ");
                    crate::sql::text_condition(&mut sql, "t.value", &clause)?;
                    sql.push(")");
                }
                filter::Entity::Attribute => {
                    let Some((column, numeric)) = ATTRIBUTES.lookup(&clause.key) else {
                        return Err(StoreError::invalid(format!(
                            "unknown experiment attribute '{}'; searchable: {}, tags.KEY",
                            clause.key,
                            ATTRIBUTES.names()
                        )));
                    };
                    if numeric {
                        let filter::Value::Number(n) = clause.value else {
                            return Err(StoreError::invalid(format!(
                                "{} is compared with a number",
                                clause.key
                            )));
                        };
                        sql.push(&format!("{column} {} ", clause.comparator.sql())).int_arg(n as i64);
                    } else {
                        crate::sql::text_condition(&mut sql, column, &clause)?;
                    }
                }
                _ => {
                    return Err(StoreError::invalid(
                        "experiments can be filtered by name, attributes and tags.KEY only",
                    ));
                }
            }
        }
        let mut order = Vec::new();
        for item in order_by {
            let (key, descending) = parse_order_item(item)?;
            let column = match key.trim_start_matches("attributes.").trim_start_matches("attribute.") {
                "name" => "e.name",
                "experiment_id" => "e.experiment_id",
                "creation_time" => "e.creation_time",
                "last_update_time" => "e.last_update_time",
                other => {
                    return Err(StoreError::invalid(format!(
                        "cannot order experiments by '{other}'; use name, experiment_id, creation_time or last_update_time"
                    )));
                }
            };
            order.push(format!("{column} {}", if descending { "DESC" } else { "ASC" }));
        }
        order.push("e.experiment_id ASC".into());
        sql.push(&format!(" ORDER BY {}", order.join(", "))).page(&page);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let (rows, next) = page.split(rows);
        let mut experiments = Vec::new();
        for row in rows.iter() {
            experiments.push(self.experiment_from_row(row).await?);
        }
        Ok((experiments, next))
    }

    pub async fn update_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        if new_name.trim().is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'new_name'"));
        }
        check_length("'new_name'", new_name, MAX_EXPERIMENT_NAME_CHARS)?;
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != ACTIVE {
            return Err(StoreError::invalid(format!(
                "Cannot rename a non-active experiment {experiment_id}"
            )));
        }
        Sql::new("UPDATE experiments SET name = ")
            .text_arg(new_name)
            .push(", last_update_time = ")
            .int_arg(now_ms())
            .push(" WHERE experiment_id = ")
            .int_arg(parse_experiment_id(experiment_id)?)
            .query()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks an experiment (and its runs) deleted or active again.
    pub async fn set_experiment_lifecycle(&self, experiment_id: &str, stage: &str) -> Result<()> {
        let id = parse_experiment_id(experiment_id)?;
        self.get_experiment(experiment_id).await?;
        if id == 0 && stage == DELETED {
            return Err(StoreError::invalid("Cannot delete the default experiment '0'"));
        }
        let mut tx = self.write().await?;
        Sql::new("UPDATE experiments SET lifecycle_stage = ")
            .text_arg(stage)
            .push(", last_update_time = ")
            .int_arg(now_ms())
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .query()
            .execute(&mut *tx)
            .await?;
        Sql::new("UPDATE runs SET lifecycle_stage = ")
            .text_arg(stage)
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .query()
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> Result<()> {
        check_tag("experiment tag", tag, MAX_EXPERIMENT_TAG_VALUE_CHARS)?;
        let id = parse_experiment_id(experiment_id)?;
        self.get_experiment(experiment_id).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "experiment_tags", &[("experiment_id", Arg::Int(id))], tag).await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- runs --------------------------------------------------------

    pub async fn create_run(
        &self,
        experiment_id: &str,
        user_id: &str,
        run_name: Option<&str>,
        start_time: Option<i64>,
        tags: &[Tag],
    ) -> Result<Run> {
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != ACTIVE {
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
            .map(str::to_string)
            .or(tagged_name)
            .unwrap_or_else(|| format!("run-{}", &run_id[..8]));
        let artifact_uri = format!("{}/{run_id}/artifacts", experiment.artifact_location);
        let mut tx = self.write().await?;
        let values = vec![
            Arg::Text(run_id.clone()),
            Arg::Int(parse_experiment_id(experiment_id)?),
            Arg::Text(name.clone()),
            Arg::Text(user_id.to_string()),
            Arg::Text("RUNNING".into()),
            Arg::Int(start_time.unwrap_or_else(now_ms)),
            Arg::Text(artifact_uri),
            Arg::Text(ACTIVE.into()),
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
        .query()
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

    async fn run_info(&self, run_id: &str) -> Result<RunInfo> {
        let row = Sql::new("SELECT * FROM runs WHERE run_id = ")
            .text_arg(run_id)
            .query()
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| run_not_found(run_id))?;
        run_info_from_row(&row)
    }

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
            .query()
            .fetch_all(&self.pool)
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
    async fn runs_data(&self, run_ids: &[String]) -> Result<Vec<(String, RunData)>> {
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
            let object = match self.backend {
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
            metrics.query_on(self.backend).fetch_all(&self.pool),
            params.query_on(self.backend).fetch_all(&self.pool),
            tags.query_on(self.backend).fetch_all(&self.pool),
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

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<&str>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        self.require_active_run(run_id).await?;
        if let Some(s) = status
            && !RUN_STATUSES.contains(&s)
        {
            return Err(StoreError::invalid(format!(
                "Invalid run status '{s}'; expected one of {}",
                RUN_STATUSES.join(", ")
            )));
        }
        let mut tx = self.write().await?;
        let mut sql = Sql::new("UPDATE runs SET run_id = run_id");
        if let Some(s) = status {
            sql.push(", status = ").text_arg(s);
        }
        if let Some(t) = end_time {
            sql.push(", end_time = ").int_arg(t);
        }
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            sql.push(", run_name = ").text_arg(name);
        }
        sql.push(" WHERE run_id = ").text_arg(run_id);
        sql.query().execute(&mut *tx).await?;
        if let Some(name) = run_name.filter(|n| !n.is_empty()) {
            upsert_tag(&mut tx, run_id, &Tag { key: "mlflow.runName".into(), value: name.into() }).await?;
        }
        tx.commit().await?;
        self.run_info(run_id).await
    }

    pub async fn set_run_lifecycle(&self, run_id: &str, stage: &str) -> Result<()> {
        self.run_info(run_id).await?;
        Sql::new("UPDATE runs SET lifecycle_stage = ")
            .text_arg(stage)
            .push(" WHERE run_id = ")
            .text_arg(run_id)
            .query()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn require_active_run(&self, run_id: &str) -> Result<RunInfo> {
        let info = self.run_info(run_id).await?;
        check_active_run(run_id, Some(&info.lifecycle_stage))?;
        Ok(info)
    }

    pub async fn log_metric(&self, run_id: &str, metric: &Metric) -> Result<()> {
        self.log_batch(run_id, std::slice::from_ref(metric), &[], &[]).await
    }

    pub async fn log_param(&self, run_id: &str, param: &Param) -> Result<()> {
        self.log_batch(run_id, &[], std::slice::from_ref(param), &[]).await
    }

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
            insert_metrics(&mut tx, self.backend, &points).await?;
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
        for row in sql.query_on(self.backend).fetch_all(&mut **tx).await? {
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
                .query_on(self.backend)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.require_active_run(run_id).await?;
        let result = Sql::new("DELETE FROM tags WHERE run_id = ")
            .text_arg(run_id)
            .push(" AND key = ")
            .text_arg(key)
            .query()
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::not_found(format!("No tag with name: {key} in run with id {run_id}")));
        }
        Ok(())
    }

    pub async fn log_inputs(&self, run_id: &str, inputs: &[DatasetInput]) -> Result<()> {
        self.require_active_run(run_id).await?;
        let mut tx = self.write().await?;
        let row = Sql::new("SELECT COALESCE(MAX(position), -1) + 1 AS next FROM run_inputs WHERE run_id = ")
            .text_arg(run_id)
            .query()
            .fetch_one(&mut *tx)
            .await?;
        let first: i64 = row.try_get("next")?;
        for (position, input) in (first..).zip(inputs) {
            let payload = serde_json::to_string(input).map_err(|e| StoreError::internal(e.to_string()))?;
            let values = vec![Arg::Text(run_id.into()), Arg::Int(position), Arg::Text(payload)];
            Sql::insert("run_inputs", &["run_id", "position", "payload"], values)
                .query()
                .execute(&mut *tx)
                .await?;
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
            .filter_map(|field| Some((field.to_string(), model.get(field)?.clone())))
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
            .query()
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

    /// Every logged point of one metric, by step then timestamp, paged:
    /// those in `metrics` and those still staged.
    pub async fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<(Vec<Metric>, Option<String>)> {
        self.run_info(run_id).await?;
        let page = Page::new(max_results, 25_000, page_token)?;
        // SQLite reads the history range by range, then the staged points.
        let (history, owner) = match self.backend {
            Backend::Sqlite => (
                "metric_ranges r JOIN metrics m ON m.rowid BETWEEN r.first_rowid AND r.last_rowid \
                 AND m.run_id = r.run_id AND m.key = r.key",
                "r",
            ),
            Backend::Postgres => ("metrics m", "m"),
        };
        let mut sql = Sql::new(&format!(
            "SELECT * FROM (SELECT m.key, m.value, m.timestamp, m.step FROM {history} WHERE {owner}.run_id = "
        ));
        sql.text_arg(run_id).push(&format!(" AND {owner}.key = ")).text_arg(key);
        if self.backend == Backend::Sqlite {
            sql.push(" UNION ALL SELECT key, value, timestamp, step FROM metrics_staged WHERE run_id = ")
                .text_arg(run_id)
                .push(" AND key = ")
                .text_arg(key);
        }
        let rows =
            sql.push(") h ORDER BY step, timestamp, value").page(&page).query().fetch_all(&self.pool).await?;
        let (rows, next) = page.split(rows);
        let metrics = rows.iter().map(metric_from_row).collect::<Result<Vec<_>>>()?;
        Ok((metrics, next))
    }

    /// Runs of the given experiments matching an MLflow filter, ordered by
    /// `order_by` (`metrics.acc DESC`, `attributes.start_time`, …) and
    /// then newest first.
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: Option<&str>,
        view: ViewType,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<(Vec<Run>, Option<String>)> {
        let page = Page::new(max_results, 1000, page_token)?;
        let clauses = filter::parse(filter.unwrap_or(""))?;
        let mut ids = Vec::new();
        for id in experiment_ids {
            ids.push(Arg::Int(id.parse::<i64>().map_err(|_| {
                StoreError::invalid(format!("experiment_ids must be numeric ids, got '{id}'"))
            })?));
        }
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let mut sql = match filtered_metric_order(order_by, &clauses)? {
            // "The best runs where acc > x": every run that passes the
            // filter has the metric, so the search walks the (key, value)
            // index in order, from where the comparisons on that key allow,
            // and stops after one page instead of scoring every run of the
            // experiment.
            Some((key, descending)) => {
                let (on_key, others): (Vec<_>, Vec<_>) =
                    clauses.into_iter().partition(|c| c.entity == filter::Entity::Metric && c.key == key);
                let mut sql = Sql::new(
                    "SELECT r.* FROM latest_metrics lm JOIN runs r ON r.run_id = lm.run_id WHERE lm.key = ",
                );
                sql.text_arg(key);
                for clause in &on_key {
                    sql.push(" AND ");
                    metric_condition(&mut sql, "lm.value", clause)?;
                }
                sql.push(" AND r.experiment_id IN ").list(ids);
                lifecycle_condition(&mut sql, "r.lifecycle_stage", view);
                runs_where(&mut sql, &others, &RUN_ATTRIBUTES)?;
                let direction = if descending { "DESC" } else { "ASC" };
                sql.push(&format!(" ORDER BY lm.value {direction}, r.start_time DESC, r.run_id ASC"));
                sql
            }
            None => {
                // Order values are computed once per run in an inner query
                // (their arguments bound first, so placeholders stay in
                // textual order).
                let mut sql = Sql::new("SELECT * FROM (SELECT r.*");
                let mut order = Vec::new();
                for (index, item) in order_by.iter().enumerate() {
                    let (column, term) = run_order_term(&mut sql, item, index)?;
                    sql.push(&column);
                    order.push(term);
                }
                sql.push(" FROM runs r WHERE r.experiment_id IN ");
                sql.list(ids);
                lifecycle_condition(&mut sql, "r.lifecycle_stage", view);
                runs_where(&mut sql, &clauses, &RUN_ATTRIBUTES)?;
                sql.push(") q ORDER BY ");
                for term in &order {
                    sql.push(term).push(", ");
                }
                sql.push("q.start_time DESC, q.run_id ASC");
                sql
            }
        };
        sql.page(&page);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let (rows, next) = page.split(rows);
        let infos = rows.iter().map(run_info_from_row).collect::<Result<Vec<_>>>()?;
        let run_ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
        let data = self.runs_data(&run_ids).await?;
        let runs = infos
            .into_iter()
            .zip(data)
            .map(|(info, (_, data))| Run { info, data, inputs: RunInputs::default() })
            .collect();
        Ok((runs, next))
    }
}

/// The insert of a new active experiment.
fn insert_experiment(id: i64, name: &str, location: &str) -> Sql {
    let now = now_ms();
    let columns = [
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "creation_time",
        "last_update_time",
    ];
    let values = vec![
        Arg::Int(id),
        Arg::Text(name.into()),
        Arg::Text(location.into()),
        Arg::Text(ACTIVE.into()),
        Arg::Int(now),
        Arg::Int(now),
    ];
    Sql::insert("experiments", &columns, values)
}

/// Sets `tag` on what `owner` identifies, in a `(owner…, key, value)` table.
pub(crate) async fn set_tag_in(
    tx: &mut WriteTx,
    table: &str,
    owner: &[(&str, Arg)],
    tag: &Tag,
) -> Result<()> {
    Sql::upsert_key_value(table, owner, &tag.key, &tag.value).query().execute(&mut **tx).await?;
    Ok(())
}

/// Sets a run's tag; `mlflow.runName` also renames the run.
async fn upsert_tag(tx: &mut WriteTx, run_id: &str, tag: &Tag) -> Result<()> {
    set_tag_in(tx, "tags", &[("run_id", Arg::Text(run_id.into()))], tag).await?;
    if tag.key == "mlflow.runName" && !tag.value.is_empty() {
        Sql::new("UPDATE runs SET run_name = ")
            .text_arg(tag.value.clone())
            .push(" WHERE run_id = ")
            .text_arg(run_id)
            .query()
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub(crate) fn lifecycle_condition(sql: &mut Sql, column: &str, view: ViewType) {
    match view {
        ViewType::ActiveOnly => sql.push(&format!(" AND {column} = 'active'")),
        ViewType::DeletedOnly => sql.push(&format!(" AND {column} = 'deleted'")),
        ViewType::All => sql,
    };
}

fn run_info_from_row(row: &AnyRow) -> Result<RunInfo> {
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

/// Splits `"metrics.acc DESC"` into the key and whether it descends.
pub(crate) fn parse_order_item(item: &str) -> Result<(String, bool)> {
    let item = item.trim();
    let (key, direction) = match item.rsplit_once(char::is_whitespace) {
        Some((k, d)) if d.eq_ignore_ascii_case("asc") => (k.trim(), false),
        Some((k, d)) if d.eq_ignore_ascii_case("desc") => (k.trim(), true),
        _ => (item, false),
    };
    if key.is_empty() {
        return Err(StoreError::invalid(format!("invalid order_by clause '{item}'")));
    }
    Ok((key.trim_matches('`').to_string(), direction))
}

/// The metric of a search ordered by one metric that the filter also
/// compares (so every matching run has it), and whether descending.
fn filtered_metric_order(order_by: &[String], clauses: &[filter::Clause]) -> Result<Option<(String, bool)>> {
    let [item] = order_by else { return Ok(None) };
    let (key, descending) = parse_order_item(item)?;
    let Some((entity, name)) = key.split_once('.') else { return Ok(None) };
    if !matches!(entity.to_ascii_lowercase().as_str(), "metric" | "metrics") {
        return Ok(None);
    }
    let name = name.trim_matches('`').trim_matches('"');
    let filtered = clauses.iter().any(|c| c.entity == filter::Entity::Metric && c.key == name);
    Ok(filtered.then(|| (name.to_string(), descending)))
}

/// For the `index`th order item: a column to add to the inner query
/// (empty for attributes, already there) and the ORDER BY term over the
/// inner query `q`. Missing values sort last either way.
fn run_order_term(sql: &mut Sql, item: &str, index: usize) -> Result<(String, String)> {
    let (key, descending) = parse_order_item(item)?;
    let direction = if descending { "DESC" } else { "ASC" };
    let (entity, name) = match key.split_once('.') {
        Some((prefix, name)) => {
            (prefix.to_ascii_lowercase(), name.trim_matches('`').trim_matches('"').to_string())
        }
        None => ("attributes".to_string(), key.clone()),
    };
    let expression = match entity.as_str() {
        "metric" | "metrics" => {
            let key = sql.bind(Arg::Text(name));
            format!("(SELECT m.value FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = {key})")
        }
        "param" | "params" | "parameter" | "parameters" | "tag" | "tags" => {
            let table = if entity.starts_with("tag") { "tags" } else { "params" };
            let key = sql.bind(Arg::Text(name));
            format!("(SELECT x.value FROM {table} x WHERE x.run_id = r.run_id AND x.key = {key})")
        }
        "attribute" | "attributes" | "attr" | "run" => match RUN_ATTRIBUTES.lookup(&name) {
            Some((column, _)) => {
                let column = column.replacen("r.", "q.", 1);
                return Ok((String::new(), format!("({column} IS NULL), {column} {direction}")));
            }
            None => {
                return Err(StoreError::invalid(format!(
                    "cannot order runs by attribute '{name}'; use one of {}",
                    RUN_ATTRIBUTES.names()
                )));
            }
        },
        other => {
            return Err(StoreError::invalid(format!("invalid order_by '{item}': unknown entity '{other}'")));
        }
    };
    let alias = format!("o{index}");
    Ok((format!(", {expression} AS {alias}"), format!("({alias} IS NULL), {alias} {direction}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn point(key: &str) -> Metric {
        Metric { key: key.into(), value: 1.0, timestamp: 1, step: 0 }
    }

    #[tokio::test]
    async fn every_sqlite_connection_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&uri, "mlflow-artifacts:").await.unwrap();
        let mut conn = store.pool.acquire().await.unwrap();
        for (pragma, expected) in [
            ("busy_timeout", 10000),
            ("foreign_keys", 1),
            ("synchronous", 1),
            ("wal_autocheckpoint", 0),
            ("journal_size_limit", 33554432),
            ("temp_store", 2),
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {pragma}")))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(row.try_get::<i64, _>(0).unwrap(), expected, "{pragma}");
        }
        // case_sensitive_like cannot be read back: seen through LIKE.
        let row = sqlx::query("SELECT 'A' LIKE 'a' AS same").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(row.try_get::<i64, _>("same").unwrap(), 0);
    }

    /// Under writes that never pause, with a reader alongside, no passive
    /// checkpoint ever finds the whole log copied: without a restarting
    /// checkpoint the log grows by every page written (hundreds of MiB
    /// here).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_ahead_log_stays_bounded_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store =
            Arc::new(SqlStore::connect(&format!("sqlite:///{}", path.display()), "a:").await.unwrap());
        let run = store.create_run("0", "u", None, None, &[]).await.unwrap().info.run_id;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = tokio::spawn({
            let (store, run, done) = (store.clone(), run.clone(), done.clone());
            let wal = dir.path().join("t.db-wal");
            async move {
                let mut largest = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    store.get_run(&run).await.unwrap();
                    largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                largest
            }
        });
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (store, run) = (store.clone(), run.clone());
                tokio::spawn(async move {
                    for step in 0..80 {
                        let points: Vec<Metric> = (0..1000)
                            .map(|k| Metric { key: format!("w{w}k{k}"), value: 0.5, timestamp: 1, step })
                            .collect();
                        store.log_batch(&run, &points, &[], &[]).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let largest = reader.await.unwrap();
        let bound = 2 * WAL_RESTART_PAGES as u64 * 4096;
        assert!(largest > 0 && largest < bound, "the log reached {largest} bytes");
    }

    #[tokio::test]
    async fn one_failing_request_does_not_fail_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("t.db").display());
        let store = SqlStore::connect(&uri, "mlflow-artifacts:").await.unwrap();
        let run = store.create_run("0", "u", None, None, &[]).await.unwrap().info.run_id;
        // All three requests are queued before the writer runs (one
        // thread), so they form one group, with an unknown run and a
        // deleted one.
        let deleted = store.create_run("0", "u", None, None, &[]).await.unwrap().info.run_id;
        store.set_run_lifecycle(&deleted, "deleted").await.unwrap();
        let (kept, lost) = ([point("kept")], [point("lost")]);
        let (good, unknown, refused) = tokio::join!(
            store.log_metrics_grouped(&run, &kept),
            store.log_metrics_grouped("no-such-run", &lost),
            store.log_metrics_grouped(&deleted, &lost),
        );
        good.unwrap();
        assert_eq!(unknown.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
        assert_eq!(refused.unwrap_err().code, ErrorCode::InvalidParameterValue);
        assert!(store.get_metric_history(&deleted, "lost", None, None).await.unwrap().0.is_empty());
        let (points, _) = store.get_metric_history(&run, "kept", None, None).await.unwrap();
        assert_eq!(points.len(), 1);
    }
}
