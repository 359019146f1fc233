//! The store's behaviour, each test once per backend (see
//! [`retrain_registry::per_backend`]).

use std::sync::Arc;

use retrain_registry::entities::{Metric, Param, Tag, ViewType};
use retrain_registry::{ErrorCode, SqlStore};

use retrain_registry::per_backend;

use crate::common::{metric, tag};

per_backend! {
    a_version_of_a_logged_model_keeps_its_run_and_model:
        sqlite_a_version_of_a_logged_model_keeps_its_run_and_model,
        postgres_a_version_of_a_logged_model_keeps_its_run_and_model;
    experiments_lifecycle: sqlite_experiments_lifecycle, postgres_experiments_lifecycle;
    runs_record_params_metrics_and_tags: sqlite_runs_record_params_metrics_and_tags, postgres_runs_record_params_metrics_and_tags;
    logged_values_come_back_exactly: sqlite_logged_values_come_back_exactly, postgres_logged_values_come_back_exactly;
    metric_history_is_whole_across_staging_and_moves: sqlite_metric_history_is_whole_across_staging_and_moves, postgres_metric_history_is_whole_across_staging_and_moves;
    length_limits_count_characters: sqlite_length_limits_count_characters, postgres_length_limits_count_characters;
    keys_follow_mlflows_rules: sqlite_keys_follow_mlflows_rules, postgres_keys_follow_mlflows_rules;
    a_key_with_a_nul_character_is_refused_alone: sqlite_a_key_with_a_nul_character_is_refused_alone, postgres_a_key_with_a_nul_character_is_refused_alone;
    log_batch_is_all_or_nothing: sqlite_log_batch_is_all_or_nothing, postgres_log_batch_is_all_or_nothing;
    search_runs_filters_orders_and_pages: sqlite_search_runs_filters_orders_and_pages, postgres_search_runs_filters_orders_and_pages;
    a_search_ordered_by_a_metric_matches_the_general_plan: sqlite_a_search_ordered_by_a_metric_matches_the_general_plan, postgres_a_search_ordered_by_a_metric_matches_the_general_plan;
    sixteen_concurrent_writers_lose_nothing: sqlite_sixteen_concurrent_writers_lose_nothing, postgres_sixteen_concurrent_writers_lose_nothing;
    logged_models_and_run_outputs: sqlite_logged_models_and_run_outputs, postgres_logged_models_and_run_outputs;
    registry_versions_stages_aliases_and_audit_trail: sqlite_registry_versions_stages_aliases_and_audit_trail, postgres_registry_versions_stages_aliases_and_audit_trail;
    like_on_a_numeric_attribute_is_refused_naming_it: sqlite_like_on_a_numeric_attribute_is_refused_naming_it, postgres_like_on_a_numeric_attribute_is_refused_naming_it;
}

async fn experiments_lifecycle(backend: &str, store: SqlStore) {
    let default = store.get_experiment("0").await.unwrap();
    assert_eq!(default.name, "Default", "{backend}");
    assert_eq!(default.artifact_location, "mlflow-artifacts:/0");

    let id = store.create_experiment("iris", None, &[tag("team", "ml")]).await.unwrap();
    assert_eq!(id, "1", "{backend}");
    let e = store.get_experiment_by_name("iris").await.unwrap();
    assert_eq!((e.experiment_id.as_str(), e.lifecycle_stage.as_str()), ("1", "active"));
    assert_eq!(e.tags, vec![tag("team", "ml")]);
    assert_eq!(e.artifact_location, "mlflow-artifacts:/1");

    let err = store.create_experiment("iris", None, &[]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceAlreadyExists, "{backend}");
    let err = store.get_experiment("42").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment("not-a-number").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    assert_eq!(store.get_experiment_by_name("nope").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    store.create_experiment("wine", Some("s3://bucket/wine"), &[]).await.unwrap();
    store.update_experiment("2", "wine-v2").await.unwrap();
    store.set_experiment_tag("2", &tag("owner", "ana")).await.unwrap();
    let (found, next) = store
        .search_experiments(ViewType::ActiveOnly, Some("name LIKE 'wine%'"), None, &[], None)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{backend}");
    assert_eq!(found[0].name, "wine-v2");
    assert_eq!(found[0].artifact_location, "s3://bucket/wine");
    assert!(next.is_none());
    let (found, _) = store
        .search_experiments(ViewType::ActiveOnly, Some("tags.owner = 'ana'"), None, &[], None)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    store.set_experiment_lifecycle("1", "deleted").await.unwrap();
    let (active, _) = store.search_experiments(ViewType::ActiveOnly, None, None, &[], None).await.unwrap();
    assert_eq!(active.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["Default", "wine-v2"]);
    let (deleted, _) = store.search_experiments(ViewType::DeletedOnly, None, None, &[], None).await.unwrap();
    assert_eq!(deleted.len(), 1);
    store.set_experiment_lifecycle("1", "active").await.unwrap();
    let (page, next) =
        store.search_experiments(ViewType::All, None, Some(2), &["name DESC".into()], None).await.unwrap();
    assert_eq!(page.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["wine-v2", "iris"]);
    let (rest, end) = store
        .search_experiments(ViewType::All, None, Some(2), &["name DESC".into()], next.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["Default"]);
    assert!(end.is_none());
    assert_eq!(
        store.set_experiment_lifecycle("0", "deleted").await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
}

async fn runs_record_params_metrics_and_tags(backend: &str, store: SqlStore) {
    let exp = store.create_experiment("runs", None, &[]).await.unwrap();
    let run = store.create_run(&exp, "ana", Some("first"), Some(5), &[tag("source", "test")]).await.unwrap();
    let id = run.info.run_id.clone();
    assert_eq!(id.len(), 32);
    assert_eq!(run.info.status, "RUNNING");
    assert_eq!(run.info.artifact_uri, format!("mlflow-artifacts:/{exp}/{id}/artifacts"));
    assert!(run.data.tags.contains(&tag("mlflow.runName", "first")), "{backend}");

    store.log_param(&id, &Param { key: "n_estimators".into(), value: "100".into() }).await.unwrap();
    store.log_param(&id, &Param { key: "n_estimators".into(), value: "100".into() }).await.unwrap();
    let err =
        store.log_param(&id, &Param { key: "n_estimators".into(), value: "200".into() }).await.unwrap_err();
    assert!(err.message.contains("Changing param values is not allowed"), "{backend}: {err}");
    for step in 0..5 {
        store.log_metric(&id, &metric("loss", 1.0 / (step as f64 + 1.0), step)).await.unwrap();
    }
    // An older step logged late does not replace the latest value.
    store.log_metric(&id, &metric("loss", 9.0, 1)).await.unwrap();
    store.log_metric(&id, &metric("weird", f64::NAN, 0)).await.unwrap();
    store.set_tag(&id, &tag("stage", "dev")).await.unwrap();
    store.delete_tag(&id, "source").await.unwrap();
    assert_eq!(store.delete_tag(&id, "source").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    let got = store.get_run(&id).await.unwrap();
    let loss = got.data.metrics.iter().find(|m| m.key == "loss").unwrap();
    assert_eq!((loss.value, loss.step), (0.2, 4), "{backend}");
    assert!(got.data.metrics.iter().find(|m| m.key == "weird").unwrap().value.is_nan());
    assert_eq!(got.data.params, vec![Param { key: "n_estimators".into(), value: "100".into() }]);
    assert!(got.data.tags.contains(&tag("stage", "dev")));
    assert!(!got.data.tags.iter().any(|t| t.key == "source"));

    let (history, next) = store.get_metric_history(&id, "loss", Some(4), None).await.unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history.iter().map(|m| m.step).collect::<Vec<_>>(), [0, 1, 1, 2]);
    let (rest, end) = store.get_metric_history(&id, "loss", Some(4), next.as_deref()).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(end.is_none());
    assert_eq!(
        store.get_metric_history(&id, "loss", Some(4), Some("garbage")).await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );

    let info = store.update_run(&id, Some("FINISHED"), Some(99), None).await.unwrap();
    assert_eq!((info.status.as_str(), info.end_time), ("FINISHED", Some(99)));
    assert!(store.update_run(&id, Some("DONE"), None, None).await.is_err());
    store.set_run_lifecycle(&id, "deleted").await.unwrap();
    let err = store.log_metric(&id, &metric("loss", 1.0, 9)).await.unwrap_err();
    assert!(err.message.contains("must be in the 'active' state"), "{err}");
    assert_eq!(store.get_run("0123").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
    let err = store.log_metric("0123", &metric("loss", 1.0, 9)).await.unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::ResourceDoesNotExist, "Run with id=0123 not found")
    );
}

/// Values read back by `runs/get` and `runs/search` are the values
/// logged: every double (extremes, subnormals, infinities, NaN and a few
/// hundred arbitrary bit patterns) and texts with quotes, escapes,
/// control characters and non-ASCII letters.
async fn logged_values_come_back_exactly(backend: &str, store: SqlStore) {
    let mut values = vec![
        0.1 + 0.2,
        1.0 / 3.0,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        f64::EPSILON,
        123_456_789_012_345_680.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    // Arbitrary bit patterns from a fixed linear congruential sequence.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    while values.len() < 400 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let value = f64::from_bits(seed);
        if !value.is_nan() {
            values.push(value);
        }
    }
    let texts = ["it's \"quoted\"", "back\\slash", "tab\tnew\nline\u{1}", "ünïcödé ✓ 日本", "", " "];
    let exp = store.create_experiment("exact", None, &[]).await.unwrap();
    let id = store.create_run(&exp, "ana", None, Some(1), &[]).await.unwrap().info.run_id;
    let metrics: Vec<Metric> =
        values.iter().enumerate().map(|(i, &v)| metric(&format!("m{i:03}"), v, i as i64)).collect();
    let params: Vec<Param> =
        texts.iter().enumerate().map(|(i, t)| Param { key: format!("p{i}"), value: t.to_string() }).collect();
    let tags: Vec<Tag> = texts.iter().enumerate().map(|(i, t)| tag(&format!("t{i}"), t)).collect();
    store.log_batch(&id, &metrics, &params, &tags).await.unwrap();

    let by_get = store.get_run(&id).await.unwrap().data;
    let (found, _) = store.search_runs(&[exp], None, ViewType::ActiveOnly, None, &[], None).await.unwrap();
    for data in [by_get, found[0].data.clone()] {
        assert_eq!(data.metrics.len(), values.len(), "{backend}");
        for (got, logged) in data.metrics.iter().zip(&metrics) {
            assert_eq!((&got.key, got.step, got.timestamp), (&logged.key, logged.step, logged.timestamp));
            let same = got.value == logged.value || (got.value.is_nan() && logged.value.is_nan());
            assert!(same, "{backend}: {} came back as {} ({:e})", logged.value, got.value, got.value);
        }
        assert_eq!(data.params, params, "{backend}");
        assert!(tags.iter().all(|t| data.tags.contains(t)), "{backend}: {:?}", data.tags);
    }
}

/// On SQLite points are staged and moved into the history in bulk, in
/// the background: every read sees each point exactly once, in order and
/// page by page, while points are staged and after they have moved.
async fn metric_history_is_whole_across_staging_and_moves(backend: &str, store: SqlStore) {
    let exp = store.create_experiment("history", None, &[]).await.unwrap();
    let id = store.create_run(&exp, "ana", None, Some(1), &[]).await.unwrap().info.run_id;
    let staged = || async {
        let row = store
            .fetch_one(&retrain_registry::Sql::new("SELECT COUNT(*) AS n FROM metrics_staged"))
            .await
            .unwrap();
        sqlx::Row::get::<i64, _>(&row, "n")
    };
    let history = |key: &'static str| {
        let (store, id) = (&store, &id);
        async move {
            let mut points = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let (page, next) =
                    store.get_metric_history(id, key, Some(999), token.as_deref()).await.unwrap();
                points.extend(page);
                match next {
                    Some(t) => token = Some(t),
                    None => return points,
                }
            }
        }
    };
    // Steps in a scrambled order, two keys interleaved.
    let steps: Vec<i64> = (0..26_000).map(|i| (i * 7_919) % 26_000).collect();
    let mut counts_seen = Vec::new();
    for chunk in steps.chunks(500) {
        let points: Vec<Metric> = chunk
            .iter()
            .flat_map(|&s| [metric("loss", s as f64 / 2.0, s), metric("acc", 1.0 - s as f64 / 1e5, s)])
            .collect();
        store.log_batch(&id, &points, &[], &[]).await.unwrap();
        counts_seen.push(staged().await);
    }
    if backend == "sqlite" {
        assert!(counts_seen.iter().any(|&n| n > 0), "{counts_seen:?}");
    } else {
        assert!(counts_seen.iter().all(|&n| n == 0), "{backend} stages nothing: {counts_seen:?}");
    }
    let while_staged = history("loss").await;
    assert_eq!(while_staged.len(), steps.len(), "{backend}");
    assert!(while_staged.windows(2).all(|w| w[0].step < w[1].step), "{backend}: out of order");
    assert!(while_staged.iter().all(|m| m.value == m.step as f64 / 2.0 && m.key == "loss"));
    let latest = store.get_run(&id).await.unwrap().data.metrics;
    let top = while_staged.last().unwrap().step;
    assert!(latest.iter().any(|m| m.key == "loss" && m.step == top), "{backend}: {latest:?}");
    // Once writes stop, what is staged moves within a second or so
    // (waited for up to ten).
    let mut waited = 0;
    while staged().await > 0 && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(staged().await, 0, "{backend}: staged points stay after writes stopped");
    assert_eq!(history("loss").await, while_staged, "{backend}");
    assert_eq!(history("acc").await.len(), steps.len(), "{backend}");
}

/// A SQLite store written before the history was kept in ranges of rowids
/// (`migrations/0005_sqlite_metric_ranges.sql`) and before runs' values
/// were stored by run (`0006_sqlite_clustered_run_values.sql`), with
/// points in the old layout and some still staged: after the upgrade
/// every history reads back whole and in order, the latest points, params
/// and tags are unchanged and searchable, and new points join them.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_store_from_before_metric_ranges_survives_the_upgrade() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    sqlx::any::install_default_drivers();
    let mut old =
        sqlx::AnyConnection::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    for script in [
        include_str!("../../migrations/0001_tracking.sql"),
        include_str!("../../migrations/0002_models.sql"),
        include_str!("../../migrations/0003_pipelines.sql"),
        include_str!("../../migrations/0004_staged_metrics.sql"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut old).await.unwrap();
    }
    sqlx::raw_sql(
        "CREATE TABLE retrain_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL); \
         INSERT INTO retrain_schema VALUES (1, 0), (2, 0), (3, 0), (4, 0); \
         INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 0, 0); \
         INSERT INTO runs VALUES ('r1', 0, 'old', 'ana', 'RUNNING', 0, NULL, 'mlflow-artifacts:/0/r1', 'active'), \
                                 ('r2', 0, 'other', 'ana', 'RUNNING', 0, NULL, 'mlflow-artifacts:/0/r2', 'active');",
    )
    .execute(&mut old)
    .await
    .unwrap();
    // Interleaved runs and keys, steps out of order; the last points of
    // `loss` in r1 are still staged.
    let mut history = String::from("INSERT INTO metrics VALUES ");
    for step in [3, 0, 2, 1] {
        for (run, key) in [("r2", "loss"), ("r1", "loss"), ("r1", "acc")] {
            history.push_str(&format!("('{run}', '{key}', {step}.5, 0, 1000, {step}),"));
        }
    }
    history.pop();
    sqlx::raw_sql(sqlx::AssertSqlSafe(history)).execute(&mut old).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO metrics_staged VALUES ('r1', 'loss', 4.5, 0, 1000, 4), ('r1', 'loss', 5.5, 0, 1000, 5); \
         INSERT INTO latest_metrics VALUES ('r1', 'loss', 5.5, 0, 1000, 5), ('r1', 'acc', 3.5, 0, 1000, 3), \
                                           ('r2', 'loss', 3.5, 0, 1000, 3); \
         INSERT INTO params VALUES ('r1', 'model', 'rf'), ('r1', 'depth', '4'), ('r2', 'model', 'knn'); \
         INSERT INTO tags VALUES ('r1', 'mlflow.runName', 'old'), ('r2', 'team', 'ml');",
    )
    .execute(&mut old)
    .await
    .unwrap();
    old.close().await.unwrap();

    let store =
        SqlStore::connect(&format!("sqlite:///{}", path.display()), "mlflow-artifacts:").await.unwrap();
    let steps = |points: Vec<Metric>| points.iter().map(|m| (m.step, m.value)).collect::<Vec<_>>();
    let history = |run: &'static str, key: &'static str| {
        let store = &store;
        async move { steps(store.get_metric_history(run, key, None, None).await.unwrap().0) }
    };
    assert_eq!(history("r1", "loss").await, [(0, 0.5), (1, 1.5), (2, 2.5), (3, 3.5), (4, 4.5), (5, 5.5)]);
    assert_eq!(history("r1", "acc").await, [(0, 0.5), (1, 1.5), (2, 2.5), (3, 3.5)]);
    assert_eq!(history("r2", "loss").await, [(0, 0.5), (1, 1.5), (2, 2.5), (3, 3.5)]);
    let (page, next) = store.get_metric_history("r1", "loss", Some(4), None).await.unwrap();
    assert_eq!(steps(page), [(0, 0.5), (1, 1.5), (2, 2.5), (3, 3.5)]);
    let (rest, _) = store.get_metric_history("r1", "loss", Some(4), next.as_deref()).await.unwrap();
    assert_eq!(steps(rest), [(4, 4.5), (5, 5.5)]);

    store.log_batch("r1", &[metric("acc", 9.0, 9), metric("acc", -1.0, -1)], &[], &[]).await.unwrap();
    let acc = history("r1", "acc").await;
    assert_eq!(acc.first(), Some(&(-1, -1.0)));
    assert_eq!(acc.last(), Some(&(9, 9.0)));
    let latest = store.get_run("r1").await.unwrap().data.metrics;
    let latest: Vec<_> = latest.iter().map(|m| (m.key.as_str(), m.step, m.value)).collect();
    assert!(latest.contains(&("acc", 9, 9.0)) && latest.contains(&("loss", 5, 5.5)), "{latest:?}");

    let data = store.get_run("r1").await.unwrap().data;
    let params: Vec<_> = data.params.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
    assert_eq!(params, [("depth", "4"), ("model", "rf")]);
    let tags: Vec<_> = data.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
    assert_eq!(tags, [("mlflow.runName", "old")]);
    let filter = "params.model = 'rf' and metrics.loss > 1";
    let (found, _) = store
        .search_runs(
            &["0".into()],
            Some(filter),
            ViewType::ActiveOnly,
            None,
            &["metrics.loss DESC".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(found.iter().map(|r| r.info.run_id.as_str()).collect::<Vec<_>>(), ["r1"]);
    store.set_tag("r2", &Tag { key: "team".into(), value: "data".into() }).await.unwrap();
    let tags = store.get_run("r2").await.unwrap().data.tags;
    assert_eq!(tags.iter().map(|t| t.value.as_str()).collect::<Vec<_>>(), ["data"]);
}

/// MLflow's limits, counted in characters as Python's `len` does: an
/// over-long param or run tag value keeps its start (MLflow's default),
/// the other limits refuse, and a refused write leaves nothing behind.
async fn length_limits_count_characters(backend: &str, store: SqlStore) {
    let id = store
        .create_run("0", "ana", None, None, &[tag("long", &"é".repeat(8001))])
        .await
        .unwrap()
        .info
        .run_id;
    let param = |key: String, value: String| Param { key, value };
    let key = "é".repeat(250);
    store.log_batch(&id, &[], &[param(key.clone(), "é".repeat(6000))], &[]).await.unwrap();
    store.log_param(&id, &param("long".into(), "é".repeat(7000))).await.unwrap();
    // The same long value again is the same param, not a change.
    store.log_param(&id, &param("long".into(), "é".repeat(7000))).await.unwrap();
    store.set_tag(&id, &tag("notes", &"ü".repeat(9000))).await.unwrap();
    let data = store.get_run(&id).await.unwrap().data;
    let param_value = |key: &str| &data.params.iter().find(|p| p.key == key).unwrap().value;
    let tag_value = |key: &str| &data.tags.iter().find(|t| t.key == key).unwrap().value;
    assert_eq!(param_value(&key), &"é".repeat(6000), "{backend}");
    assert_eq!(param_value("long"), &"é".repeat(6000), "{backend}");
    assert_eq!(tag_value("long"), &"é".repeat(8000), "{backend}");
    assert_eq!(tag_value("notes"), &"ü".repeat(8000), "{backend}");

    let err = store.log_batch(&id, &[], &[param("é".repeat(251), "v".into())], &[]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
    assert_eq!(store.get_run(&id).await.unwrap().data.params.len(), 2, "{backend}");

    let experiment = store.create_experiment(&"ö".repeat(500), None, &[]).await.unwrap();
    let refusals = [
        store.create_experiment(&"ö".repeat(501), None, &[]).await,
        store.create_experiment("tagged", None, &[tag("t", &"x".repeat(20_001))]).await,
        store.update_experiment(&experiment, &"ö".repeat(501)).await.map(|()| String::new()),
        store.set_experiment_tag(&experiment, &tag("t", &"x".repeat(20_001))).await.map(|()| String::new()),
    ];
    for refused in refusals {
        let err = refused.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
        assert!(err.message.contains("exceeds the maximum length"), "{backend}: {err}");
    }
    assert_eq!(store.get_experiment(&experiment).await.unwrap().name, "ö".repeat(500), "{backend}");
    assert!(store.get_experiment_by_name("tagged").await.is_err(), "{backend}");
    store.set_experiment_tag(&experiment, &tag("t", &"x".repeat(20_000))).await.unwrap();

    let long = tag("t", &"x".repeat(100_001));
    let err = store.create_registered_model("limits", "", std::slice::from_ref(&long)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
    assert_eq!(err.message, "The value of tag 't' exceeds the maximum length of 100000 characters");
    store.create_registered_model("limits", "", &[]).await.unwrap();
    let err = store.set_registered_model_tag("limits", &long).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
    store.set_registered_model_tag("limits", &tag("t", &"x".repeat(100_000))).await.unwrap();
}

/// Keys follow MLflow's rules: its characters, and nothing that names
/// another key when read as a path; a refused batch leaves nothing.
async fn keys_follow_mlflows_rules(backend: &str, store: SqlStore) {
    let id = store.create_run("0", "ana", None, None, &[]).await.unwrap().info.run_id;
    for key in ["val/acc", "f1 macro", "fold:1", "é-1.2_z", "a/.b"] {
        store.log_metric(&id, &metric(key, 1.0, 0)).await.unwrap();
    }
    for key in ["a#b", "a/../b", "/a", "a//b", "a/", ".", "..x", "a/./b", "x\ty"] {
        let batch = [metric("kept", 1.0, 0), metric(key, 1.0, 0)];
        let err = store.log_batch(&id, &batch, &[], &[tag("t", "v")]).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {key}");
        assert!(err.message.contains(&format!("{key:?}")), "{backend}: {err}");
        let err = store.set_tag(&id, &tag(key, "v")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {key}");
        let err = store.set_experiment_tag("0", &tag(key, "v")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {key}");
    }
    let data = store.get_run(&id).await.unwrap().data;
    let keys: Vec<&str> = data.metrics.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a/.b", "f1 macro", "fold:1", "val/acc", "é-1.2_z"], "{backend}");
    assert!(!data.tags.iter().any(|t| t.key == "t"), "{backend}");
}

/// A key PostgreSQL cannot store (it holds a NUL character) is the
/// caller's error on both engines, and a metric write sharing a group
/// commit with it still lands; such a value is PostgreSQL's to refuse,
/// as a bad parameter, not a server error.
async fn a_key_with_a_nul_character_is_refused_alone(backend: &str, store: SqlStore) {
    let id = store.create_run("0", "ana", None, None, &[]).await.unwrap().info.run_id;
    let (bad, good) = (metric("lo\0ss", 1.0, 0), metric("acc", 0.5, 0));
    let (refused, kept) = tokio::join!(store.log_metric(&id, &bad), store.log_metric(&id, &good));
    let err = refused.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
    assert!(err.message.contains("'\\0' is not allowed"), "{backend}: {err}");
    kept.unwrap();
    let param = Param { key: "p\0".into(), value: "v".into() };
    let err = store.log_batch(&id, &[], &[param], &[]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
    let data = store.get_run(&id).await.unwrap().data;
    assert_eq!(data.metrics.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["acc"], "{backend}");
    assert!(data.params.is_empty(), "{backend}");

    // In a value SQLite keeps it; PostgreSQL refuses it as the caller's error.
    let noted = store.set_tag(&id, &tag("note", "a\0b")).await;
    let tags = store.get_run(&id).await.unwrap().data.tags;
    match backend {
        "postgres" => {
            assert_eq!(noted.unwrap_err().code, ErrorCode::InvalidParameterValue);
            assert!(!tags.iter().any(|t| t.key == "note"));
        }
        _ => {
            noted.unwrap();
            assert!(tags.contains(&tag("note", "a\0b")), "{tags:?}");
        }
    }
}

async fn log_batch_is_all_or_nothing(backend: &str, store: SqlStore) {
    let run = store.create_run("0", "u", None, None, &[]).await.unwrap();
    let id = run.info.run_id;
    store.log_param(&id, &Param { key: "a".into(), value: "1".into() }).await.unwrap();
    let err = store
        .log_batch(
            &id,
            &[metric("m", 1.0, 0)],
            &[
                Param { key: "b".into(), value: "2".into() },
                Param { key: "a".into(), value: "changed".into() },
            ],
            &[tag("t", "v")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    let got = store.get_run(&id).await.unwrap();
    assert!(got.data.metrics.is_empty(), "{backend}: a failed batch left metrics behind");
    assert_eq!(got.data.params.len(), 1);
    assert!(!got.data.tags.iter().any(|t| t.key == "t"));
    // One batch may carry many points of a key, and a param twice with one value.
    let points: Vec<Metric> = [3, 1, 2].iter().map(|&s| metric("curve", s as f64, s)).collect();
    let same = Param { key: "p".into(), value: "1".into() };
    store.log_batch(&id, &points, &[same.clone(), same], &[tag("t", "a"), tag("t", "b")]).await.unwrap();
    let got = store.get_run(&id).await.unwrap();
    let curve = got.data.metrics.iter().find(|m| m.key == "curve").unwrap();
    assert_eq!(curve.step, 3, "{backend}");
    assert!(got.data.tags.contains(&tag("t", "b")), "the last value of a tag in a batch wins");
    assert_eq!(store.get_metric_history(&id, "curve", None, None).await.unwrap().0.len(), 3);
    let twice = [Param { key: "q".into(), value: "1".into() }, Param { key: "q".into(), value: "2".into() }];
    assert!(store.log_batch(&id, &[], &twice, &[]).await.is_err());
    let too_many: Vec<Metric> = (0..1001).map(|i| metric("m", 0.0, i)).collect();
    assert!(store.log_batch(&id, &too_many, &[], &[]).await.unwrap_err().message.contains("at most 1000"));
}

async fn search_runs_filters_orders_and_pages(backend: &str, store: SqlStore) {
    let exp = store.create_experiment("search", None, &[]).await.unwrap();
    for (i, (model, acc)) in [("rf", 0.95), ("rf", 0.90), ("knn", 0.97), ("svm", 0.80)].iter().enumerate() {
        let run = store.create_run(&exp, "u", Some(&format!("run-{i}")), Some(i as i64), &[]).await.unwrap();
        let id = run.info.run_id;
        store
            .log_batch(
                &id,
                &[metric("acc", *acc, 0)],
                &[Param { key: "model".into(), value: model.to_string() }],
                &[tag("team", if i % 2 == 0 { "A" } else { "B" })],
            )
            .await
            .unwrap();
    }
    let names = |runs: &[retrain_registry::entities::Run]| {
        runs.iter().map(|r| r.info.run_name.clone()).collect::<Vec<_>>()
    };
    let search = |filter: &'static str, order: Vec<String>| {
        let store = &store;
        let exp = exp.clone();
        async move { store.search_runs(&[exp], Some(filter), ViewType::ActiveOnly, None, &order, None).await }
    };
    let (runs, _) =
        search("metrics.acc > 0.85 and params.model = 'rf'", vec!["metrics.acc DESC".into()]).await.unwrap();
    assert_eq!(names(&runs), ["run-0", "run-1"], "{backend}");
    let (runs, _) = search("", vec!["metrics.acc ASC".into()]).await.unwrap();
    assert_eq!(names(&runs), ["run-3", "run-1", "run-0", "run-2"]);
    let (runs, _) = search("", vec![]).await.unwrap();
    assert_eq!(names(&runs), ["run-3", "run-2", "run-1", "run-0"], "default order is newest first");
    let (runs, _) = search("params.model IN ('knn', 'svm') AND tags.team = 'A'", vec![]).await.unwrap();
    assert_eq!(names(&runs), ["run-2"]);
    let (runs, _) =
        search("attributes.run_name LIKE 'run-%' AND params.model != 'rf'", vec!["params.model".into()])
            .await
            .unwrap();
    assert_eq!(names(&runs), ["run-2", "run-3"]);
    let (runs, _) = search("tags.team ILIKE 'a'", vec!["attributes.start_time ASC".into()]).await.unwrap();
    assert_eq!(names(&runs), ["run-0", "run-2"]);
    let (runs, _) = search("params.model LIKE 'RF'", vec![]).await.unwrap();
    assert!(runs.is_empty(), "{backend}: LIKE must be case-sensitive");
    let (runs, _) = search("params.model = 'rf'' OR 1=1 --'", vec![]).await.unwrap();
    assert!(runs.is_empty(), "a quote in a value is a value, not SQL");
    assert_eq!(
        search("metrics.acc = 'high'", vec![]).await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
    assert!(
        search("attributes.colour = 'red'", vec![]).await.unwrap_err().message.contains("unknown attribute")
    );
    assert!(search("", vec!["shoe_size DESC".into()]).await.is_err());

    let (page, next) = store
        .search_runs(std::slice::from_ref(&exp), None, ViewType::ActiveOnly, Some(3), &[], None)
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    let (rest, end) = store
        .search_runs(std::slice::from_ref(&exp), None, ViewType::ActiveOnly, Some(3), &[], next.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert!(end.is_none());
    assert_eq!(page[0].data.params.len(), 1);
    assert_eq!(page[0].data.metrics.len(), 1);

    store.set_run_lifecycle(&rest[0].info.run_id, "deleted").await.unwrap();
    let (active, _) = store
        .search_runs(std::slice::from_ref(&exp), None, ViewType::ActiveOnly, None, &[], None)
        .await
        .unwrap();
    assert_eq!(active.len(), 3);
    let (deleted, _) = store
        .search_runs(std::slice::from_ref(&exp), None, ViewType::DeletedOnly, None, &[], None)
        .await
        .unwrap();
    assert_eq!(deleted.len(), 1);
}

/// "The best runs by acc" takes the index on the metric; it must answer
/// exactly as the general plan does, ties, runs without the metric and
/// pages across both included.
async fn a_search_ordered_by_a_metric_matches_the_general_plan(backend: &str, store: SqlStore) {
    let exp = store.create_experiment("best", None, &[]).await.unwrap();
    let other = store.create_experiment("other", None, &[]).await.unwrap();
    for i in 0..40i64 {
        let run =
            store.create_run(&exp, "u", Some(&format!("run-{i}")), Some(1000 + i % 7), &[]).await.unwrap();
        // Ties on acc, a NaN, and runs without the metric.
        let acc = [0.5, 0.9, 0.7, 0.9, f64::NAN][(i % 5) as usize];
        let metrics = if i % 11 == 0 { vec![] } else { vec![metric("acc", acc, 0)] };
        let model = if i % 3 == 0 { "knn" } else { "rf" };
        store
            .log_batch(&run.info.run_id, &metrics, &[Param { key: "model".into(), value: model.into() }], &[])
            .await
            .unwrap();
        let elsewhere = store.create_run(&other, "u", Some("elsewhere"), Some(1), &[]).await.unwrap();
        store.log_batch(&elsewhere.info.run_id, &[metric("acc", 0.99, 0)], &[], &[]).await.unwrap();
    }
    let exps = std::slice::from_ref(&exp);
    for (filter, direction) in [
        ("metrics.acc > 0.6 and params.model = 'rf'", "DESC"),
        ("metrics.acc >= 0.5", "ASC"),
        ("metrics.acc != 0.7", "DESC"),
        ("metrics.acc > 0.5 and metrics.acc <= 0.9 and params.model = 'rf'", "ASC"),
        // No comparison on acc: the runs without it (or with NaN) follow.
        ("", "DESC"),
        ("", "ASC"),
        ("params.model = 'rf'", "DESC"),
        ("params.model = 'knn'", "ASC"),
    ] {
        // The general plan, forced by a second (redundant) order term.
        let general = vec![format!("metrics.acc {direction}"), "attributes.start_time DESC".into()];
        let (expected, _) =
            store.search_runs(exps, Some(filter), ViewType::ActiveOnly, None, &general, None).await.unwrap();
        assert!(!expected.is_empty());
        let mut got = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let order = vec![format!("metrics.acc {direction}")];
            let (page, next) = store
                .search_runs(exps, Some(filter), ViewType::ActiveOnly, Some(4), &order, token.as_deref())
                .await
                .unwrap();
            got.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let ids = |runs: &[retrain_registry::entities::Run]| {
            runs.iter().map(|r| r.info.run_id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&got), ids(&expected), "{backend}: {filter} {direction}");
    }
}

async fn sixteen_concurrent_writers_lose_nothing(backend: &str, store: SqlStore) {
    let store = Arc::new(store);
    let run = store.create_run("0", "u", None, None, &[]).await.unwrap();
    let id = run.info.run_id;
    let mut writers = Vec::new();
    for writer in 0..16 {
        let store = store.clone();
        let id = id.clone();
        writers.push(tokio::spawn(async move {
            for step in 0..25 {
                store.log_metric(&id, &metric(&format!("w{writer}"), step as f64, step)).await.unwrap();
                // A batch that reads (the param check) before it writes.
                let param = Param { key: format!("p{writer}_{step}"), value: "x".into() };
                let shared = metric("shared", (writer * 100 + step) as f64, step);
                store.log_batch(&id, &[shared], &[param], &[]).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut total = 0;
    for writer in 0..16 {
        let (points, _) = store.get_metric_history(&id, &format!("w{writer}"), None, None).await.unwrap();
        assert_eq!(points.len(), 25, "{backend}: writer {writer} lost points");
        total += points.len();
    }
    let (shared, _) = store.get_metric_history(&id, "shared", None, None).await.unwrap();
    assert_eq!(total + shared.len(), 16 * 50, "{backend}");
    let data = store.get_run(&id).await.unwrap().data;
    assert_eq!(data.params.len(), 16 * 25, "{backend}");
    // Points of one key arrive from many requests (committed in
    // groups): the latest is still the highest step.
    for latest in &data.metrics {
        assert_eq!(latest.step, 24, "{backend}: {latest:?}");
        if latest.key != "shared" {
            assert_eq!(latest.value, 24.0, "{backend}: {latest:?}");
        }
    }
    assert_eq!(data.metrics.len(), 17, "{backend}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_backend_uris_are_clear_errors() {
    let err = SqlStore::connect("mysql://localhost/x", "mlflow-artifacts:").await.err().unwrap();
    assert!(err.message.contains("unsupported backend store URI"), "{err}");
    let err = SqlStore::connect("sqlite:///", "mlflow-artifacts:").await.err().unwrap();
    assert!(err.message.contains("needs a file path"));
}

async fn logged_models_and_run_outputs(backend: &str, store: SqlStore) {
    let run = store.create_run("0", "u", None, None, &[]).await.unwrap();
    let params = [Param { key: "C".into(), value: "1.0".into() }];
    let model = store
        .create_logged_model(
            "0",
            Some("model"),
            Some(&run.info.run_id),
            Some("sklearn"),
            &params,
            &[tag("a", "b")],
        )
        .await
        .unwrap();
    let id = model.info.model_id.clone();
    assert!(id.starts_with("m-"), "{backend}");
    assert_eq!(model.info.status, "LOGGED_MODEL_PENDING");
    assert_eq!(model.info.artifact_uri, format!("mlflow-artifacts:/0/models/{id}/artifacts"));
    assert_eq!(model.data.params, params);
    let ready = store.finalize_logged_model(&id, "LOGGED_MODEL_READY").await.unwrap();
    assert_eq!(ready.info.status, "LOGGED_MODEL_READY");
    assert!(store.finalize_logged_model(&id, "DONE").await.is_err());
    store.set_logged_model_tags(&id, &[tag("mlflow.modelVersions", "[]")]).await.unwrap();
    store.log_outputs(&run.info.run_id, &[(id.clone(), 0)]).await.unwrap();
    let (found, _) =
        store.search_logged_models(&["0".into()], Some("name = 'model'"), None, None).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].info.tags.len(), 2);
    let (none, _) =
        store.search_logged_models(&["0".into()], Some("name = 'other'"), None, None).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(store.get_logged_model("m-nope").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn registry_versions_stages_aliases_and_audit_trail(backend: &str, store: SqlStore) {
    let run = store.create_run("0", "u", None, None, &[]).await.unwrap();
    let run_id = run.info.run_id.clone();
    let model = store.create_logged_model("0", Some("model"), Some(&run_id), None, &[], &[]).await.unwrap();
    let model_id = model.info.model_id.clone();
    store.create_registered_model("iris-rf", "", &[tag("team", "ml")]).await.unwrap();
    let err = store.create_registered_model("iris-rf", "", &[]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceAlreadyExists, "{backend}");
    assert_eq!(err.message, "Registered Model (name=iris-rf) already exists.");

    let source = format!("models:/{model_id}");
    let v1 = store
        .create_model_version("iris-rf", &source, Some(&run_id), Some(&model_id), &[], None, "", "ana")
        .await
        .unwrap();
    let v2 = store
        .create_model_version(
            "iris-rf",
            &format!("runs:/{run_id}/model"),
            Some(&run_id),
            None,
            &[tag("k", "v")],
            None,
            "second",
            "ana",
        )
        .await
        .unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"), "{backend}");
    assert_eq!((v1.current_stage.as_str(), v1.status.as_str()), ("None", "READY"));
    assert_eq!(store.model_version_download_uri("iris-rf", "1").await.unwrap(), model.info.artifact_uri);
    assert_eq!(
        store.model_version_download_uri("iris-rf", "2").await.unwrap(),
        format!("mlflow-artifacts:/0/{run_id}/artifacts/model")
    );
    assert_eq!(
        store.get_model_version("iris-rf", "3").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    assert_eq!(
        store.get_model_version("iris-rf", "x").await.unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );

    let before_any = retrain_registry::now_ms();
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.set_alias("iris-rf", "champion", "1", "ana", "first model").await.unwrap();
    store.transition_stage("iris-rf", "1", "production", false, "ana", "first model").await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let with_v1 = retrain_registry::now_ms();
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.set_alias("iris-rf", "champion", "2", "bot", "beats v1 on validation").await.unwrap();
    let moved = store.transition_stage("iris-rf", "2", "Production", true, "bot", "beats v1").await.unwrap();
    assert_eq!(moved.current_stage, "Production");
    assert_eq!(store.get_model_version("iris-rf", "1").await.unwrap().current_stage, "Archived", "{backend}");
    assert!(store.transition_stage("iris-rf", "2", "Live", false, "x", "").await.is_err());
    assert!(
        store.set_alias("iris-rf", "v3", "1", "x", "").await.is_err(),
        "version-like aliases are refused"
    );

    let champion = store.get_version_by_alias("iris-rf", "champion").await.unwrap();
    assert_eq!((champion.version.as_str(), champion.aliases.clone()), ("2", vec!["champion".to_owned()]));
    let latest = store.get_latest_versions("iris-rf", &["Production".into()]).await.unwrap();
    assert_eq!(latest.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["2"]);
    let registered = store.get_registered_model("iris-rf").await.unwrap();
    assert_eq!(registered.aliases.len(), 1);
    assert_eq!(registered.latest_versions.len(), 2, "one per stage: Archived and Production");

    // Which version was in Production, and champion, at each moment.
    let (stages, aliases) = store.registry_state_at("iris-rf", with_v1).await.unwrap();
    assert_eq!(stages.get("Production"), Some(&vec!["1".to_owned()]), "{backend}");
    assert_eq!(aliases.get("champion").map(String::as_str), Some("1"));
    let (stages, aliases) = store.registry_state_at("iris-rf", retrain_registry::now_ms()).await.unwrap();
    assert_eq!(stages.get("Production"), Some(&vec!["2".to_owned()]));
    assert_eq!(stages.get("Archived"), Some(&vec!["1".to_owned()]));
    assert_eq!(aliases.get("champion").map(String::as_str), Some("2"));
    let (stages, aliases) = store.registry_state_at("iris-rf", before_any).await.unwrap();
    assert!(stages.is_empty() && aliases.is_empty());
    let events = store.registry_events("iris-rf", None).await.unwrap();
    let last_alias = events.iter().rev().find(|e| e.kind == "alias").unwrap();
    assert_eq!(
        (last_alias.from_version.as_deref(), last_alias.to_version.as_deref()),
        (Some("1"), Some("2"))
    );
    assert_eq!((last_alias.actor.as_str(), last_alias.reason.as_str()), ("bot", "beats v1 on validation"));

    // Moves within one millisecond keep their order in the trail, so
    // replaying it ends where the alias is.
    for i in 0..20 {
        let version = if i % 2 == 0 { "1" } else { "2" };
        store.set_alias("iris-rf", "stand-in", version, "bot", &format!("move {i}")).await.unwrap();
    }
    let events = store.registry_events("iris-rf", None).await.unwrap();
    let moves: Vec<_> = events.iter().filter(|e| e.subject == "stand-in").collect();
    let reasons: Vec<&str> = moves.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, (0..20).map(|i| format!("move {i}")).collect::<Vec<_>>(), "{backend}");
    for pair in moves.windows(2) {
        assert_eq!(pair[1].from_version, pair[0].to_version, "{backend}");
    }
    let (_, aliases) = store.registry_state_at("iris-rf", retrain_registry::now_ms()).await.unwrap();
    assert_eq!(aliases.get("stand-in").map(String::as_str), Some("2"), "{backend}");

    let (found, _) =
        store.search_model_versions(Some("name = 'iris-rf' and tags.k = 'v'"), None, None).await.unwrap();
    assert_eq!(found.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["2"]);
    let (found, _) =
        store.search_model_versions(Some(&format!("run_id = '{run_id}'")), None, None).await.unwrap();
    assert_eq!(found.len(), 2);
    store.set_model_version_tag("iris-rf", "1", &tag("validated", "yes")).await.unwrap();
    store.delete_model_version_tag("iris-rf", "1", "validated").await.unwrap();
    store.update_model_version("iris-rf", "1", "the first").await.unwrap();
    assert_eq!(store.get_model_version("iris-rf", "1").await.unwrap().description, "the first");

    store.create_registered_model("wine-gb", "", &[]).await.unwrap();
    let (models, _) =
        store.search_registered_models(Some("name LIKE 'iris%'"), None, &[], None).await.unwrap();
    assert_eq!(models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["iris-rf"]);
    let (models, _) = store.search_registered_models(None, None, &["name DESC".into()], None).await.unwrap();
    assert_eq!(models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["wine-gb", "iris-rf"]);

    let renamed = store.rename_registered_model("iris-rf", "iris-forest").await.unwrap();
    assert_eq!(renamed.aliases[0].version, "2");
    assert_eq!(store.get_version_by_alias("iris-forest", "champion").await.unwrap().version, "2");
    assert!(
        !store.registry_events("iris-forest", None).await.unwrap().is_empty(),
        "the trail follows a rename"
    );
    assert_eq!(
        store.rename_registered_model("iris-forest", "wine-gb").await.unwrap_err().code,
        ErrorCode::ResourceAlreadyExists
    );

    // 255 characters, counted as MLflow counts them, not in bytes.
    store.set_alias("iris-forest", &"é".repeat(255), "1", "x", "").await.unwrap();
    assert!(store.set_alias("iris-forest", &"é".repeat(256), "1", "x", "").await.is_err());
    store.delete_alias("iris-forest", &"é".repeat(255), "x", "").await.unwrap();
    store.delete_alias("iris-forest", "champion", "ana", "retired").await.unwrap();
    assert_eq!(
        store.get_version_by_alias("iris-forest", "champion").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    store.delete_model_version("iris-forest", "1", "ana").await.unwrap();
    assert!(store.get_model_version("iris-forest", "1").await.is_err());
    store.delete_registered_model("iris-forest").await.unwrap();
    assert_eq!(
        store.get_registered_model("iris-forest").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
}

/// `LIKE` and `ILIKE` on a numeric attribute are the request's fault: a
/// 400 naming the attribute, as runs/search answers, not the database's
/// syntax error.
async fn like_on_a_numeric_attribute_is_refused_naming_it(backend: &str, store: SqlStore) {
    store.create_registered_model("m", "", &[]).await.unwrap();
    store.create_model_version("m", "s3://b/m", None, None, &[], None, "", "").await.unwrap();
    for comparator in ["LIKE", "ILIKE"] {
        let filter = format!("attributes.creation_time {comparator} 5");
        let err = store.search_experiments(ViewType::All, Some(&filter), None, &[], None).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
        assert!(err.message.contains("creation_time"), "{backend}: {err}");
        let filter = format!("attributes.version_number {comparator} 5");
        let err = store.search_model_versions(Some(&filter), None, None).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameterValue, "{backend}: {err}");
        assert!(err.message.contains("version_number"), "{backend}: {err}");
    }
}

/// `mlflow.register_model("models:/m-…", name)` registers a logged
/// model: the version keeps the model's id and takes its run, as MLflow's
/// server fills them, so the version's lineage is not lost.
async fn a_version_of_a_logged_model_keeps_its_run_and_model(backend: &str, store: SqlStore) {
    let run = store.create_run("0", "u", None, None, &[]).await.unwrap().info.run_id;
    let model = store.create_logged_model("0", Some("model"), Some(&run), None, &[], &[]).await.unwrap();
    let id = model.info.model_id;
    store.create_registered_model("m", "", &[]).await.unwrap();
    let source = format!("models:/{id}");
    let by_source = store.create_model_version("m", &source, None, None, &[], None, "", "").await.unwrap();
    assert_eq!(by_source.run_id.as_deref(), Some(run.as_str()), "{backend}");
    assert_eq!(by_source.model_id.as_deref(), Some(id.as_str()), "{backend}");
    let by_id =
        store.create_model_version("m", "s3://b/m", None, Some(&id), &[], None, "", "").await.unwrap();
    assert_eq!(by_id.run_id.as_deref(), Some(run.as_str()), "{backend}");
    assert_eq!(by_id.model_id.as_deref(), Some(id.as_str()), "{backend}");
    // A run the request names is kept.
    let other = store.create_run("0", "u", None, None, &[]).await.unwrap().info.run_id;
    let named =
        store.create_model_version("m", &source, Some(&other), None, &[], None, "", "").await.unwrap();
    assert_eq!(named.run_id.as_deref(), Some(other.as_str()), "{backend}");
    let read = store.get_model_version("m", "1").await.unwrap();
    assert_eq!((read.run_id, read.model_id), (Some(run), Some(id)), "{backend}");
}
