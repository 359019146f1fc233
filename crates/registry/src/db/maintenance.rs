//! SQLite's background maintenance: checkpoints of the write-ahead log
//! and moves of staged metric points into the history, every 200 ms.
//!
//! Automatic checkpoints are off (`wal_autocheckpoint = 0`): SQLite's
//! would run inside the commit that crosses its threshold, and sync the
//! database file there, in a request.

use sqlx::Row;

use super::Writer;
use crate::error::Result;

/// The write-ahead log's length, in pages, past which a checkpoint makes
/// it start over (64 MiB of 4 KiB pages).
pub(crate) const WAL_RESTART_PAGES: i64 = 16_384;

/// SQLite: staged metric points are moved into `metrics` by the first
/// check (every 200 ms) that finds this many, or when writes pause (see
/// `migrations/0004_staged_metrics.sql`). Reads of a history scan the
/// staged points, so this bounds what they scan.
///
/// Why staged at all: a request of 100 keys written straight into an
/// index of every point changed 100 pages, each written whole to the
/// write-ahead log, and a move into such an index took as long as the
/// requests that logged the points, growing with the history. So
/// SQLite's `metrics` has no index: a move appends its points sorted by
/// run and key and records one range of rowids per key.
const STAGED_METRICS_MOVE_AT: i64 = 50_000;

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
pub(super) async fn maintain_regularly(writer: Writer) {
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

impl Writer {
    /// A passive checkpoint. The log starts over from its beginning only
    /// when a writer finds every page of it copied and no reader using it,
    /// which a steady stream of writes never allows: it would grow without
    /// end (1.5 GB in 20 s of load, and every append would extend the
    /// file). Past [`WAL_RESTART_PAGES`], this process's writers wait while
    /// a restarting checkpoint copies the rest and waits out the readers,
    /// so the next commit writes from the log's start (and trims the file
    /// to `journal_size_limit`).
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
}
