//! What the store's tests and the tests of the crates above it share: a
//! fresh store on each backend, and [`per_backend!`](crate::per_backend),
//! which defines a test once per backend by name. Built only with the
//! `testing` feature, which only dev-dependencies enable.

use std::io::Write;

use crate::SqlStore;

/// Defines, for each `async fn NAME(backend: &str, store: SqlStore)`
/// given with its two test names, a test on SQLite (always) and one on
/// PostgreSQL (when `RETRAIN_TEST_POSTGRES_URL` names a server; without
/// it the test says it is skipped, past the test harness's capture).
#[macro_export]
macro_rules! per_backend {
    ($($test:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread")]
        async fn $sqlite() {
            let (store, _dir) = $crate::testing::sqlite_store().await;
            $test("sqlite", store).await;
        }

        #[tokio::test(flavor = "multi_thread")]
        async fn $postgres() {
            let Some(store) = $crate::testing::postgres_store(stringify!($postgres)).await else { return };
            $test("postgres", store).await;
        }
    )*};
}

/// A store on a fresh SQLite file (in a directory that does not exist
/// yet), with the directory that holds it.
pub async fn sqlite_store() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("sub/retrain.db").display());
    (SqlStore::connect(&uri, "mlflow-artifacts:").await.unwrap(), dir)
}

/// A store on a fresh PostgreSQL database, or `None` (said on stderr)
/// when `RETRAIN_TEST_POSTGRES_URL` is not set.
pub async fn postgres_store(test: &str) -> Option<SqlStore> {
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
