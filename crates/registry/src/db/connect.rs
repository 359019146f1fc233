//! Opening the database: MLflow-style URIs, the pool and how every
//! connection is configured.

use std::path::Path;
use std::sync::Arc;

use sqlx::any::AnyPoolOptions;

use super::{Backend, Database, Writer, maintenance, migrations};
use crate::error::{Result, StoreError};

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
        return Ok((uri.to_owned(), Backend::Postgres));
    }
    Err(StoreError::invalid(format!(
        "unsupported backend store URI '{uri}'; use sqlite:///PATH or postgresql://USER@HOST/DB"
    )))
}

impl Database {
    /// Opens the pool, starts SQLite's maintenance and applies the
    /// migrations not applied yet.
    pub(crate) async fn connect(uri: &str) -> Result<Database> {
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
                        // One round trip for all of them. `case_sensitive_like`
                        // makes LIKE case-sensitive as on PostgreSQL (ILIKE is
                        // `LOWER() LIKE LOWER()` on both). Checkpoints run in the
                        // background (`maintenance`), not in whichever
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
                Some(tokio::spawn(maintenance::maintain_regularly(writer.clone())).abort_handle())
            }
            Backend::Postgres => None,
        };
        let db = Database { pool, backend, writer, maintenance };
        migrations::migrate(&db).await?;
        Ok(db)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    #[tokio::test]
    async fn every_sqlite_connection_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("t.db").display());
        let db = Database::connect(&uri).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
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
}
