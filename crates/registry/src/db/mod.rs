//! The database layer: one pool on SQLite (WAL) or PostgreSQL through
//! sqlx's `Any` driver, the schema's migrations, the SQL builder, write
//! transactions with the writer's turn, group commit and SQLite's
//! background maintenance.
//!
//! It knows tables only as text: nothing here depends on the entities
//! stored, so each entity module builds on it and not the other way round.

mod connect;
mod group_commit;
mod maintenance;
mod migrations;
mod sql;
mod writer;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::error::Result;

pub(crate) use group_commit::{GroupCommit, Grouped};
#[cfg(test)]
pub(crate) use maintenance::WAL_RESTART_PAGES;
#[cfg(test)]
pub(crate) use sql::statements;
pub use sql::{Arg, Sql};
pub use writer::WriteTx;
pub(crate) use writer::Writer;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file, in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open database: its pool, its engine, the writer that opens write
/// transactions and, on SQLite, the maintenance task.
#[derive(Debug)]
pub(crate) struct Database {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    writer: Writer,
    /// SQLite: the task that checkpoints the write-ahead log and moves
    /// staged metric points.
    maintenance: Option<tokio::task::AbortHandle>,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(maintenance) = &self.maintenance {
            maintenance.abort();
        }
    }
}

impl Database {
    /// A write transaction. On SQLite it waits for this process's other
    /// writers first, then takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a transaction that has read never fails upgrading
    /// to writing; writers in other processes wait on `busy_timeout`.
    pub(crate) async fn write(&self) -> Result<WriteTx> {
        self.writer.begin().await
    }

    /// What opens write transactions, for a task that outlives a request.
    pub(crate) fn writer(&self) -> &Writer {
        &self.writer
    }
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A text column of `row`. sqlx's Any driver decodes a `String` by
/// formatting its shared copy (`to_string`); borrowing the text and copying
/// it is a plain copy, which a page of runs does thousands of times.
pub(crate) fn text(row: &AnyRow, column: &str) -> Result<String> {
    Ok(row.try_get::<&str, _>(column)?.to_owned())
}
