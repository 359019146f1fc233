//! Write transactions. SQLite has one writer at a time, so this process's
//! writers take turns on an in-process lock before they begin, in the
//! order they asked.

use std::sync::Arc;

use sqlx::AnyPool;
use sqlx::any::{AnyQueryResult, AnyRow};

use super::{Backend, Sql};
use crate::error::Result;

/// What opens write transactions: the pool, its engine and the turn.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
    /// SQLite has one writer at a time: this process's writers queue
    /// here, in order, instead of in SQLite's busy handler, which polls
    /// with sleeps of up to 100 ms and lets a late writer overtake.
    pub(super) turn: Arc<tokio::sync::Mutex<()>>,
}

impl Writer {
    pub(crate) async fn begin(&self) -> Result<WriteTx> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.turn.clone().lock_owned().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    backend: self.backend,
                    _turn: Some(turn),
                }
            }
            Backend::Postgres => WriteTx { tx: self.pool.begin().await?, backend: self.backend, _turn: None },
        })
    }
}

/// A write transaction (see [`crate::SqlStore::write`]): run statements
/// with [`WriteTx::execute`] and the `fetch_*` methods (or use it as the
/// connection, `&mut *tx`), then [`WriteTx::commit`]. Dropped without a
/// commit, it rolls back.
#[derive(Debug)]
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    /// Released after the transaction has ended (fields drop in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }

    /// The engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `sql` in the transaction and returns every row.
    pub async fn fetch_all(&mut self, sql: &Sql) -> Result<Vec<AnyRow>> {
        sql.fetch_all(&mut *self.tx).await
    }

    /// Runs `sql` in the transaction and returns its first row, if any.
    pub async fn fetch_optional(&mut self, sql: &Sql) -> Result<Option<AnyRow>> {
        sql.fetch_optional(&mut *self.tx).await
    }

    /// Runs `sql` in the transaction and returns its first row; no row is
    /// an error.
    pub async fn fetch_one(&mut self, sql: &Sql) -> Result<AnyRow> {
        sql.fetch_one(&mut *self.tx).await
    }

    /// Runs a statement that returns no rows in the transaction.
    pub async fn execute(&mut self, sql: &Sql) -> Result<AnyQueryResult> {
        sql.execute(&mut *self.tx).await
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
