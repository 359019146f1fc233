//! `SqlStore`: MLflow's tracking and registry store over the database
//! layer ([`crate::db`]). Each entity adds its operations in its own
//! module (`experiments`, `runs`, `metrics`, `logged_models`, `registry`,
//! `audit`, `users`, with `sessions` answering who a request is from
//! memory), and their searches share one engine (`search`); this one
//! opens the store and offers the database to the other parts of the
//! system that keep their tables in it (the scheduler).
//!
//! Semantics follow MLflow's SQL store: IDs are strings on the wire,
//! parameters are immutable once logged, only active runs take new data,
//! `runs/get` shows the latest value of each metric (highest step, then
//! latest timestamp) and searches compare those latest values.

mod audit;
mod experiments;
mod logged_models;
mod metrics;
mod registry;
mod runs;
mod search;
pub(crate) mod sessions;
pub(crate) mod users;

use sqlx::any::{AnyQueryResult, AnyRow};

use crate::db::{Backend, Database, GroupCommit, Sql, WriteTx};
use crate::error::{Result, StoreError};
use metrics::MetricPoints;

/// The tracking and registry store on SQLite or PostgreSQL.
#[derive(Debug)]
pub struct SqlStore {
    pub(crate) db: Database,
    /// Where new experiments put artifacts, e.g. `mlflow-artifacts:`.
    pub(crate) artifact_root: String,
    /// Metric points waiting for the next group commit.
    pub(crate) metric_commits: GroupCommit<MetricPoints>,
    /// Credentials checked lately, and tokens issued in memory.
    pub(crate) sessions: sessions::Sessions,
}

impl SqlStore {
    /// Connects, applies migrations and makes sure experiment 0
    /// ("Default") exists. `artifact_root` prefixes new experiments'
    /// artifact locations (`mlflow-artifacts:` when the server proxies).
    pub async fn connect(uri: &str, artifact_root: &str) -> Result<SqlStore> {
        let store = SqlStore {
            db: Database::connect(uri).await?,
            artifact_root: artifact_root.trim_end_matches('/').to_owned(),
            metric_commits: GroupCommit::default(),
            sessions: sessions::Sessions::default(),
        };
        store.ensure_default_experiment().await?;
        Ok(store)
    }

    /// The engine the store runs on.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// A write transaction. On SQLite it waits for this process's other
    /// writers first, then takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a transaction that has read never fails upgrading
    /// to writing; writers in other processes wait on `busy_timeout`.
    pub async fn write(&self) -> Result<WriteTx> {
        self.db.write().await
    }

    // The database for the other tables kept in it (the scheduler's):
    // reads and single statements outside a transaction. Several
    // statements that must land together go through [`SqlStore::write`].

    /// Runs `sql` and returns every row.
    pub async fn fetch_all(&self, sql: &Sql) -> Result<Vec<AnyRow>> {
        sql.fetch_all(&self.db.pool).await
    }

    /// Runs `sql` and returns its first row, if any.
    pub async fn fetch_optional(&self, sql: &Sql) -> Result<Option<AnyRow>> {
        sql.fetch_optional(&self.db.pool).await
    }

    /// Runs `sql` and returns its first row; no row is an error.
    pub async fn fetch_one(&self, sql: &Sql) -> Result<AnyRow> {
        sql.fetch_one(&self.db.pool).await
    }

    /// Runs a statement that returns no rows (outside a transaction: one
    /// statement is atomic on its own).
    pub async fn execute(&self, sql: &Sql) -> Result<AnyQueryResult> {
        sql.execute(&self.db.pool).await
    }
}

/// The one entity a page loader built from one row.
fn only<T>(mut loaded: Vec<T>, what: &str) -> Result<T> {
    loaded.pop().ok_or_else(|| StoreError::internal(format!("{what}'s row was read and lost")))
}
