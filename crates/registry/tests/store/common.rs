//! Helpers every test module shares: a fresh store per backend and the
//! macro that runs a test once on each.

use std::io::Write;

use retrain_registry::SqlStore;
use retrain_registry::entities::{Metric, Tag};

/// Defines, for each `async fn NAME(backend: &str, store: SqlStore)`
/// given with its two test names, a test on SQLite (always) and one on
/// PostgreSQL (when `RETRAIN_TEST_POSTGRES_URL` names a server; without
/// it the test says it is skipped, past the test harness's capture).
macro_rules! per_backend {
    ($($test:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $sqlite() {
            let (store, _dir) = $crate::common::sqlite_store().await;
            $test("sqlite", store).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn $postgres() {
            let Some(store) = $crate::common::postgres_store(stringify!($postgres)).await else { return };
            $test("postgres", store).await;
        }
    )*};
}

pub(crate) use per_backend;

/// A store on a fresh SQLite file (in a directory that does not exist
/// yet), with the directory that holds it.
pub(crate) async fn sqlite_store() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("sub/retrain.db").display());
    (SqlStore::connect(&uri, "mlflow-artifacts:").await.unwrap(), dir)
}

/// A store on a fresh PostgreSQL database, or `None` (said on stderr)
/// when `RETRAIN_TEST_POSTGRES_URL` is not set.
pub(crate) async fn postgres_store(test: &str) -> Option<SqlStore> {
    let Ok(base) = std::env::var("RETRAIN_TEST_POSTGRES_URL") else {
        let _ = writeln!(std::io::stderr(), "{test}: skipped, RETRAIN_TEST_POSTGRES_URL is not set");
        return None;
    };
    let name = format!("retrain_test_{}", uuid::Uuid::new_v4().simple());
    create_database(&base, &name).await;
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("RETRAIN_TEST_POSTGRES_URL must end in /DATABASE"),
    };
    Some(SqlStore::connect(&url, "mlflow-artifacts:").await.unwrap())
}

/// Creates an empty database next to the one `base` names.
async fn create_database(base: &str, name: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
}

pub(crate) fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.into(), value: v.into() }
}

pub(crate) fn metric(k: &str, value: f64, step: i64) -> Metric {
    Metric { key: k.into(), value, timestamp: 1_000 + step, step }
}
