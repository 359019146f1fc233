//! The schema's migrations, tracked in `retrain_schema`.
//!
//! SQL is written once for both engines: placeholders `$1, $2, …`,
//! `INSERT … ON CONFLICT … DO UPDATE`, no engine-specific types, IDs
//! allocated by the store rather than by sequences. A migration marked
//! with an engine holds that engine's dialect (`WITHOUT ROWID`).

use sqlx::Row;

use super::{Arg, Backend, Database, Sql, now_ms};
use crate::error::Result;

/// The schema's migrations, in order. One marked with an engine is in
/// that engine's dialect and runs there alone; the other engine records
/// its version all the same, so a version means one thing on both.
const MIGRATIONS: [(i64, Option<Backend>, &str); 8] = [
    (1, None, include_str!("../../migrations/0001_tracking.sql")),
    (2, None, include_str!("../../migrations/0002_models.sql")),
    (3, None, include_str!("../../migrations/0003_pipelines.sql")),
    (4, None, include_str!("../../migrations/0004_staged_metrics.sql")),
    (5, Some(Backend::Sqlite), include_str!("../../migrations/0005_sqlite_metric_ranges.sql")),
    (6, Some(Backend::Sqlite), include_str!("../../migrations/0006_sqlite_clustered_run_values.sql")),
    (7, None, include_str!("../../migrations/0007_users.sql")),
    (8, None, include_str!("../../migrations/0008_secret_variables.sql")),
];

/// Applies the migrations `db` has not recorded, each in its own write
/// transaction (another process may be applying them at the same time).
pub(super) async fn migrate(db: &Database) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS retrain_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&db.pool)
    .await?;
    // Most starts find everything applied: one read, no write lock.
    let applied: Vec<i64> = sqlx::query("SELECT version FROM retrain_schema")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| row.try_get("version"))
        .collect::<std::result::Result<_, _>>()?;
    for (version, engine, script) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let mut tx = db.write().await?;
        let applied = tx
            .fetch_optional(Sql::new("SELECT version FROM retrain_schema WHERE version = ").int_arg(version))
            .await?;
        if applied.is_some() {
            continue;
        }
        if engine.is_none_or(|engine| engine == db.backend) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut *tx).await?;
        }
        tx.execute(&Sql::insert(
            "retrain_schema",
            &["version", "applied_at"],
            vec![Arg::Int(version), Arg::Int(now_ms())],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(version, "applied tracking schema migration");
    }
    Ok(())
}
