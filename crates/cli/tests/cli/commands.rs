//! The `retrain` binary as a user meets it: every command, and every kind
//! of bad input with its exit code (2) and message.

use std::fs;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{retrain, write};

const RF_CONFIG: &str =
    "name: rf-small\nmodel: random_forest\nparams: {n_estimators: 20, max_depth: 8}\nseed: 42\n";

#[test]
fn daily_workflow_from_generated_data_to_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "configs/random_forest.yaml", RF_CONFIG);
    for (rows, out) in [("3000", "data/raw/2026-11-01"), ("500", "data/raw/2026-11-02")] {
        retrain(d)
            .args(["datasets", "generate", "--rows", rows, "--seed", "7", "--drift", "0.3", "--out", out])
            .assert()
            .success();
    }
    let header = fs::read_to_string(d.join("data/raw/2026-11-01/data.csv")).unwrap();
    assert!(header.starts_with("f0,f1,"));
    let labels = fs::read_to_string(d.join("data/raw/2026-11-01/target.csv")).unwrap();
    assert_eq!(labels.lines().count(), 3001);

    retrain(d)
        .args(["prepare", "--input", "data/raw/2026-11-01"])
        .args(["--output", "data/processed/2026-11-01/train_data.csv"])
        .assert()
        .success();
    retrain(d)
        .args(["split", "--input", "data/processed/2026-11-01/train_data.csv"])
        .args(["--out-dir", "data/processed/2026-11-01"])
        .assert()
        .success()
        .stdout(contains("wrote 2400 rows").and(contains("wrote 600 rows")));
    retrain(d)
        .args(["train", "--config", "configs/random_forest.yaml"])
        .args(["--data", "data/processed/2026-11-01/train.csv"])
        .args(["--validation", "data/processed/2026-11-01/val.csv", "--out", "data/models/2026-11-01"])
        .assert()
        .success()
        .stdout(
            contains("trained random_forest 'rf-small' on 2400 rows").and(contains("validation accuracy")),
        );
    for file in ["model.bin", "metadata.json", "metrics.json", "history.json"] {
        assert!(d.join("data/models/2026-11-01").join(file).is_file(), "{file}");
    }
    let metadata: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("data/models/2026-11-01/metadata.json")).unwrap())
            .unwrap();
    assert_eq!(metadata["params"]["n_estimators"], 20);
    assert_eq!(metadata["classes"], serde_json::json!(["0", "1", "2"]));
    assert!(metadata["metrics"]["validation"]["accuracy"].as_f64().unwrap() > 0.7);

    let output = retrain(d)
        .args(["evaluate", "--model", "data/models/2026-11-01"])
        .args(["--data", "data/processed/2026-11-01/val.csv"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let metrics: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(metrics["n_samples"], 600);
    assert!(metrics["roc_auc"].as_f64().unwrap() > 0.9);
    assert_eq!(metrics["confusion_matrix"].as_array().unwrap().len(), 3);

    retrain(d)
        .args(["predict", "--model", "data/models/2026-11-01", "--input", "data/raw/2026-11-02/data.csv"])
        .args(["--output", "data/predictions/2026-11-02/predictions.csv", "--proba"])
        .assert()
        .success();
    let predictions = fs::read_to_string(d.join("data/predictions/2026-11-02/predictions.csv")).unwrap();
    let mut lines = predictions.lines();
    assert_eq!(lines.next(), Some("prediction,proba_0,proba_1,proba_2"));
    assert_eq!(lines.count(), 500);
}

#[test]
fn training_without_validation_data_records_the_training_set_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "rf.yaml", RF_CONFIG);
    write(d, "lr.yaml", "name: lr\nmodel: logistic_regression\n");
    retrain(d)
        .args(["train", "--config", "rf.yaml", "--data", "iris", "--out", "rf"])
        .assert()
        .success()
        .stdout(contains("training accuracy").and(contains("out-of-bag accuracy")));
    let metrics: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("rf/metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["training"]["n_samples"], 150);
    assert!(metrics["training"]["accuracy"].as_f64().unwrap() > 0.9);
    let out_of_bag = metrics["out_of_bag_accuracy"].as_f64().unwrap();
    assert!((0.8..=1.0).contains(&out_of_bag), "{out_of_bag}");
    assert!(metrics.get("validation").is_none());

    retrain(d)
        .args(["train", "--config", "lr.yaml", "--data", "iris", "--out", "lr"])
        .assert()
        .success()
        .stdout(contains("training accuracy").and(contains("out-of-bag").not()));
    let metrics: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("lr/metrics.json")).unwrap()).unwrap();
    assert!(metrics["training"]["accuracy"].as_f64().unwrap() > 0.9);
    assert!(metrics.get("out_of_bag_accuracy").is_none());
}

#[test]
fn generated_data_is_reproducible_and_dated_by_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for out in ["a/2026-11-05", "b/2026-11-05", "c/2026-12-05"] {
        retrain(d)
            .args(["datasets", "generate", "--rows", "200", "--seed", "1", "--drift", "1", "--out", out])
            .assert()
            .success();
    }
    let read = |p: &str| fs::read_to_string(d.join(p).join("data.csv")).unwrap();
    assert_eq!(read("a/2026-11-05"), read("b/2026-11-05"));
    assert_ne!(read("a/2026-11-05"), read("c/2026-12-05"));
    retrain(d)
        .args(["datasets", "generate", "--rows", "10", "--features", "3", "--out", "x"])
        .assert()
        .code(2)
        .stderr(contains("must not exceed n_features (3)"));
}

#[test]
fn builtin_iris_gives_labels_back_as_trained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "rf.json",
        r#"{"name": "iris-rf", "model": "random_forest", "params": {"n_estimators": 30}, "seed": 1}"#,
    );
    retrain(d).args(["datasets", "list"]).assert().success().stdout(contains("iris").and(contains("setosa")));
    retrain(d).args(["datasets", "export", "iris", "--out", "iris"]).assert().success();
    assert!(d.join("iris/data.csv").is_file() && d.join("iris/target.csv").is_file());
    retrain(d).args(["train", "--config", "rf.json", "--data", "iris", "--out", "model"]).assert().success();
    // Columns in another order, and the label column present: both fine.
    write(
        d,
        "query.csv",
        "petal_width,petal_length,sepal_width,sepal_length,species\n0.2,1.4,3.5,5.1,setosa\n2.3,5.9,3.0,6.8,virginica\n",
    );
    retrain(d)
        .args(["predict", "--model", "model", "--input", "query.csv", "--output", "out.csv"])
        .assert()
        .success();
    assert_eq!(fs::read_to_string(d.join("out.csv")).unwrap(), "prediction\nsetosa\nvirginica\n");
    retrain(d)
        .args(["evaluate", "--model", "model", "--data", "iris", "--out", "metrics.json"])
        .assert()
        .success()
        .stdout(contains("\"accuracy\""));
    assert!(fs::read_to_string(d.join("metrics.json")).unwrap().contains("setosa"));
}

#[test]
fn every_model_trains_from_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for model in retrain_ml::models::MODEL_NAMES {
        write(d, &format!("{model}.yaml"), &format!("model: {model}\n"));
        retrain(d)
            .args(["train", "--config", &format!("{model}.yaml"), "--data", "breast_cancer", "--out", model])
            .assert()
            .success()
            .stdout(contains(format!("trained {model} '{model}' on 569 rows")));
    }
}

#[test]
fn missing_values_are_refused_unless_the_config_imputes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train.csv", "a,b,label\n1,2,x\n2,,y\n3,4,x\n4,5,y\n1.5,2.5,x\n3.5,NA,y\n");
    write(d, "strict.yaml", "model: decision_tree\n");
    write(d, "impute.yaml", "model: decision_tree\nimpute: median\n");
    retrain(d)
        .args(["train", "--config", "strict.yaml", "--data", "train.csv", "--out", "m"])
        .assert()
        .code(2)
        .stderr(contains("train.csv: line 3, column 'b': missing value").and(contains("impute: mean")));
    retrain(d)
        .args(["train", "--config", "impute.yaml", "--data", "train.csv", "--out", "m"])
        .assert()
        .success();
    write(d, "query.csv", "a,b\n1,\n");
    retrain(d)
        .args(["predict", "--model", "m", "--input", "query.csv", "--output", "p.csv"])
        .assert()
        .success();
}

/// Runs `retrain train` on `data` and expects exit code 2 with `message`.
fn train_rejects(files: &[(&str, &str)], data: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "c.yaml", "model: knn\n");
    for (name, text) in files {
        write(d, name, text);
    }
    retrain(d)
        .args(["train", "--config", "c.yaml", "--data", data, "--out", "m"])
        .assert()
        .code(2)
        .stderr(contains(message));
    assert!(!d.join("m").exists(), "no model may be written from bad input");
}

#[test]
fn malformed_csv_files_are_rejected_with_line_and_column() {
    train_rejects(
        &[("d.csv", "a,b,y\n1,2,x\n3,4\n")],
        "d.csv",
        "d.csv: line 3: expected 3 fields as in the header, found 2",
    );
    train_rejects(
        &[("d.csv", "a,b,y\n1,two,x\n")],
        "d.csv",
        "d.csv: line 2, column 'b': 'two' is not a number",
    );
    train_rejects(&[("d.csv", "")], "d.csv", "file is empty");
    train_rejects(&[("d.csv", "a,b,y\n")], "d.csv", "no data rows after the header");
    train_rejects(&[("raw/data.csv", "a,b\n1,2\n")], "raw", "missing target.csv");
    train_rejects(&[("raw/data.csv", "a\n1\n2\n"), ("raw/target.csv", "y\n1\n")], "raw", "has 1 labels but");
    train_rejects(&[("d.csv", "a,y\n1,x\n2,x\n")], "d.csv", "a single class ('x')");
    train_rejects(&[], "nowhere.csv", "neither a file, a directory nor a built-in dataset");
}

fn config_rejects(config: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "c.yaml", config);
    retrain(d)
        .args(["train", "--config", "c.yaml", "--data", "iris", "--out", "m"])
        .assert()
        .code(2)
        .stderr(contains("c.yaml").or(contains("config 'c'")).and(contains(message)));
    assert!(!d.join("m").exists());
}

#[test]
fn bad_configs_are_rejected_before_training() {
    config_rejects(
        "model: deep_net\n",
        "unknown model 'deep_net'; expected one of random_forest, decision_tree",
    );
    config_rejects(
        "model: random_forest\nparams: {trees: 10}\n",
        "unknown field `trees`, expected one of `n_estimators`",
    );
    config_rejects("model: random_forest\nparams: {max_depth: -1}\n", "params.max_depth");
    config_rejects(
        "model: gradient_boosting\nparams: {learning_rate: 0}\n",
        "params.learning_rate: must be > 0, got 0",
    );
    config_rejects(
        "model: knn\nparams: {n_neighbors: 500}\n",
        "params.n_neighbors: must be at most the number of training rows (150)",
    );
    config_rejects("model: [unclosed\n", "invalid YAML");
    let dir = tempfile::tempdir().unwrap();
    retrain(dir.path())
        .args(["train", "--config", "absent.yaml", "--data", "iris", "--out", "m"])
        .assert()
        .code(2)
        .stderr(contains("absent.yaml"));
}

#[test]
fn damaged_models_and_mismatched_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "c.yaml", "model: gaussian_nb\n");
    retrain(d).args(["train", "--config", "c.yaml", "--data", "iris", "--out", "m"]).assert().success();
    write(d, "three.csv", "sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n");
    retrain(d)
        .args(["predict", "--model", "m", "--input", "three.csv", "--output", "p.csv"])
        .assert()
        .code(2)
        .stderr(contains("missing column(s) 'petal_width'").and(contains("the model expects 4 columns")));
    write(d, "five.csv", "sepal_length,sepal_width,petal_length,petal_width,colour\n5.1,3.5,1.4,0.2,1\n");
    retrain(d)
        .args(["predict", "--model", "m", "--input", "five.csv", "--output", "p.csv"])
        .assert()
        .code(2)
        .stderr(contains("unexpected column(s) 'colour'"));
    assert!(!d.join("p.csv").exists());

    let model_bin = d.join("m/model.bin");
    let bytes = fs::read(&model_bin).unwrap();
    fs::write(&model_bin, &bytes[..bytes.len() - 7]).unwrap();
    retrain(d)
        .args(["predict", "--model", "m", "--input", "five.csv", "--output", "p.csv"])
        .assert()
        .code(2)
        .stderr(contains("model.bin: does not match the sha256"));
    write(d, "foreign/metadata.json", "{\"hello\": 1}");
    retrain(d)
        .args(["evaluate", "--model", "foreign", "--data", "iris"])
        .assert()
        .code(2)
        .stderr(contains("not retrain model metadata"));
    retrain(d)
        .args(["evaluate", "--model", "c.yaml", "--data", "iris"])
        .assert()
        .code(2)
        .stderr(contains("not a directory"));
}

#[test]
fn retraining_replaces_a_model_directory_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.yaml", "model: gaussian_nb\n");
    write(d, "b.yaml", "model: decision_tree\n");
    retrain(d)
        .args(["train", "--config", "a.yaml", "--data", "iris", "--out", "models/m"])
        .assert()
        .success();
    fs::write(d.join("models/m/stale.txt"), "x").unwrap();
    retrain(d)
        .args(["train", "--config", "b.yaml", "--data", "iris", "--out", "models/m"])
        .assert()
        .success();
    assert!(!d.join("models/m/stale.txt").exists());
    assert!(fs::read_to_string(d.join("models/m/metadata.json")).unwrap().contains("decision_tree"));
    let entries: Vec<_> = fs::read_dir(d.join("models")).unwrap().collect();
    assert_eq!(entries.len(), 1, "no temporary directories are left behind");
}

#[test]
fn usage_errors_exit_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    retrain(dir.path()).args(["train", "--config"]).assert().code(2);
    retrain(dir.path()).args(["no-such-command"]).assert().code(2);
    retrain(dir.path())
        .args(["datasets", "export", "mnist", "--out", "x"])
        .assert()
        .code(2)
        .stderr(contains("unknown dataset 'mnist'"));
    // Nothing listens beyond this machine without signing callers in
    // unless asked to (`up` always signs them in).
    for command in
        [vec!["server", "--host", "0.0.0.0"], vec!["serve", "--model", "m", "--host", "192.168.1.7"]]
    {
        retrain(dir.path()).args(&command).assert().code(2).stderr(
            contains("without signing in").and(contains("--auth")).and(contains("--allow-unauthenticated")),
        );
    }
    retrain(dir.path()).args(["up", "--allow-unauthenticated"]).assert().code(2);
    // A registry URI with a mistake is named as such, not looked for as a directory.
    for model in ["models:/iris", "models:/iris/Live"] {
        retrain(dir.path())
            .args(["predict", "--model", model, "--input", "x.csv", "--output", "p.csv"])
            .env("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
            .assert()
            .code(2)
            .stderr(contains(format!("invalid model URI '{model}'")));
    }
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // `retrain datasets list | head -0`: the reader is gone before the first line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("retrain"))
        .args(["datasets", "list"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    const SIGPIPE: i32 = 13;
    assert_eq!(output.status.signal(), Some(SIGPIPE), "{:?}", output.status);
}
