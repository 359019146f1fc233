//! Metric points: the history (every point) and each key's latest
//! point, which `runs/get` shows and searches compare.
//!
//! `latest_metrics` keeps the point with the highest step, then latest
//! timestamp, per key, updated in the same transaction as the history.
//! Points alone (`log-metric`, a batch of only metrics) are
//! group-committed: one read of the group's runs, one multi-row insert,
//! one upsert of the latest points. Keys are checked (length, no NUL
//! character, which PostgreSQL's text cannot hold) before a request
//! queues, so what can still fail a group is the database's; the run is
//! read there, once per group, not once per request before it queues
//! (each read is a round trip to a connection's worker thread).
//!
//! SQLite: new points go to `metrics_staged` (no index, arrival order),
//! moved into `metrics` by the maintenance task (`db::maintenance`); a
//! history read walks the key's ranges in `metric_ranges`, then the staged
//! points. PostgreSQL logs rows, not pages: points go straight to
//! `metrics` and its index, and the staging table stays empty.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Backend, Grouped, Sql, WriteTx, text};
use crate::entities::Metric;
use crate::error::Result;
use crate::states::check_active_run;
use crate::store::search::Page;

/// Metric points of one request, waiting for the next group commit.
#[derive(Debug)]
pub(crate) struct MetricPoints {
    run_id: String,
    metrics: Vec<Metric>,
}

impl Grouped for MetricPoints {
    fn size(&self) -> usize {
        self.metrics.len()
    }

    /// Commits the points of every request whose run is active, and says
    /// for each request in `group` whether its points landed. The runs are
    /// checked here, in the write transaction, by one query for the whole
    /// group rather than one per request before it queues.
    async fn write_group(tx: &mut WriteTx, group: &[Self]) -> Result<Vec<Result<()>>> {
        let mut runs: Vec<&str> = group.iter().map(|p| p.run_id.as_str()).collect();
        runs.sort_unstable();
        runs.dedup();
        let mut sql = Sql::new("SELECT run_id, lifecycle_stage FROM runs WHERE run_id IN ");
        sql.list(runs.into_iter().map(|id| Arg::Text(id.into())));
        let stages = sql
            .query_on(tx.backend())
            .fetch_all(&mut **tx)
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
            insert_metrics(tx, &points).await?;
        }
        Ok(outcomes)
    }
}

/// Appends metric points to their history and moves each key's latest
/// point forward (highest step, then latest timestamp).
pub(crate) async fn insert_metrics(tx: &mut WriteTx, points: &[(&str, &Metric)]) -> Result<()> {
    let backend = tx.backend();
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

pub(crate) fn stored_value(v: f64) -> (Option<f64>, i64) {
    if v.is_nan() { (None, 1) } else { (Some(v), 0) }
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
    /// Metric points only (the common case: `log-metric`, a batch of
    /// metrics): committed together with other requests' points.
    pub(crate) async fn log_metrics_grouped(&self, run_id: &str, metrics: &[Metric]) -> Result<()> {
        let points = MetricPoints { run_id: run_id.to_owned(), metrics: metrics.to_vec() };
        self.metric_commits.submit(self.db.writer(), points).await
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
        let (history, owner) = match self.db.backend {
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
        if self.db.backend == Backend::Sqlite {
            sql.push(" UNION ALL SELECT key, value, timestamp, step FROM metrics_staged WHERE run_id = ")
                .text_arg(run_id)
                .push(" AND key = ")
                .text_arg(key);
        }
        page.apply(sql.push(") h ORDER BY step, timestamp, value"));
        let rows = sql.fetch_all(&self.db.pool).await?;
        let (rows, next) = page.split(rows);
        let metrics = rows.iter().map(metric_from_row).collect::<Result<Vec<_>>>()?;
        Ok((metrics, next))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::error::ErrorCode;

    fn point(key: &str) -> Metric {
        Metric { key: key.into(), value: 1.0, timestamp: 1, step: 0 }
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
        let bound = 2 * crate::db::WAL_RESTART_PAGES as u64 * 4096;
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
