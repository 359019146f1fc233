//! Secret variables on each backend: encrypted in their row, clear for
//! the task that renders them, still readable after the key is rotated,
//! and rows kept in clear before encryption existed still read.

use std::sync::Arc;

use retrain_flow::secrets::SecretKey;
use retrain_flow::store::PipelineStore;
use retrain_registry::{Arg, Sql, SqlStore, per_backend};
use sqlx::Row;

per_backend! {
    secret_variables_are_encrypted_at_rest: secret_variables_on_sqlite, secret_variables_on_postgres;
}

/// The `value` column of a variable's row, as the database holds it.
async fn raw_value(store: &SqlStore, key: &str) -> String {
    let row = store
        .fetch_optional(Sql::new("SELECT value FROM variables WHERE key = ").text_arg(key))
        .await
        .unwrap()
        .expect("the variable's row");
    row.try_get("value").unwrap()
}

async fn secret_variables_are_encrypted_at_rest(backend: &str, store: SqlStore) {
    let store = Arc::new(store);
    let old = SecretKey::generate();
    let state = PipelineStore::new(store.clone()).with_secret_key(Some(old.clone()));
    state.set_variable("DB_PASSWORD", "s3cret-value", false).await.unwrap();
    state.set_variable("endpoint", "https://internal", true).await.unwrap();
    state.set_variable("note", "hello", false).await.unwrap();

    let row = raw_value(&store, "DB_PASSWORD").await;
    assert!(!row.contains("s3cret-value"), "{backend}: {row}");
    assert!(!raw_value(&store, "endpoint").await.contains("internal"), "{backend}");
    assert_eq!(raw_value(&store, "note").await, "hello", "{backend}");
    assert!(state.get_variable("endpoint").await.unwrap().unwrap().is_secret(), "{backend}");

    let (vars, secrets) = state.template_variables().await.unwrap();
    assert_eq!(vars["DB_PASSWORD"], "s3cret-value", "{backend}");
    assert_eq!(vars["endpoint"], "https://internal", "{backend}");
    assert_eq!(vars["note"], "hello", "{backend}");
    let mut secrets = secrets;
    secrets.sort();
    assert_eq!(secrets, ["https://internal", "s3cret-value"], "{backend}");

    // Without the key, or with another one, a secret is not read, and the
    // error says which variable and what to do.
    let keyless = PipelineStore::new(store.clone());
    assert!(keyless.set_variable("API_TOKEN", "abcd", false).await.is_err(), "{backend}");
    let error = keyless.template_variables().await.unwrap_err().message;
    assert!(error.contains("needs the secret key"), "{backend}: {error}");
    let other = PipelineStore::new(store.clone()).with_secret_key(Some(SecretKey::generate()));
    let error = other.template_variables().await.unwrap_err().message;
    assert!(error.contains("another key") && error.contains("rotate-key"), "{backend}: {error}");

    // A secret kept in clear before encryption existed is still read, and
    // the rotation encrypts it with the rest.
    store
        .execute(&Sql::new(
            "UPDATE variables SET value = 'legacy-token', encrypted = 0 WHERE key = 'DB_PASSWORD'",
        ))
        .await
        .unwrap();
    assert_eq!(state.template_variables().await.unwrap().0["DB_PASSWORD"], "legacy-token", "{backend}");

    let new = SecretKey::generate();
    assert_eq!(state.rotate_secret_key(&new).await.unwrap(), 2, "{backend}");
    assert!(!raw_value(&store, "DB_PASSWORD").await.contains("legacy-token"), "{backend}");
    let rotated = PipelineStore::new(store.clone()).with_secret_key(Some(new));
    let (vars, _) = rotated.template_variables().await.unwrap();
    assert_eq!(vars["DB_PASSWORD"], "legacy-token", "{backend}");
    assert_eq!(vars["endpoint"], "https://internal", "{backend}");
    assert!(state.template_variables().await.is_err(), "{backend}: the old key no longer decrypts");

    // A rotation that cannot decrypt a value changes nothing, not even the
    // clear secret it had encrypted before reaching that value.
    store
        .execute(&Sql::insert(
            "variables",
            &["key", "value", "encrypted", "updated_at"],
            vec![Arg::Text("A_TOKEN".into()), Arg::Text("clear-token".into()), Arg::Int(0), Arg::Int(0)],
        ))
        .await
        .unwrap();
    let before = raw_value(&store, "endpoint").await;
    assert!(other.rotate_secret_key(&SecretKey::generate()).await.is_err(), "{backend}");
    assert_eq!(raw_value(&store, "A_TOKEN").await, "clear-token", "{backend}");
    assert_eq!(raw_value(&store, "endpoint").await, before, "{backend}");
    assert_eq!(rotated.template_variables().await.unwrap().0["endpoint"], "https://internal", "{backend}");
}
