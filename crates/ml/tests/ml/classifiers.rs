//! Every classifier on the built-in datasets: accuracy, probabilities,
//! determinism, and the model directory round trip.

use retrain_ml::datasets::builtin;
use retrain_ml::models::{MODEL_NAMES, ModelSpec};
use retrain_ml::{ClassifierConfig, Dataset, Impute, Model, NoProgress, data, split, train};

fn config(model: &str, seed: u64) -> ClassifierConfig {
    ClassifierConfig {
        name: format!("{model}-test"),
        spec: ModelSpec::parse(model, serde_json::json!({})).unwrap(),
        seed,
        impute: Impute::Error,
    }
}

/// A stratified 70/30 split of a built-in dataset.
fn holdout(name: &str) -> (Dataset, Dataset) {
    let all = builtin(name).unwrap();
    let target = all.target.as_ref().unwrap();
    let y = target.encode(&data::classes_of(&target.labels)).unwrap();
    let parts = split::stratified(&y, 0.3, 0.0, 1).unwrap();
    (all.select_rows(&parts.train), all.select_rows(&parts.validation))
}

#[test]
fn every_classifier_learns_every_builtin_dataset() {
    // Minimum holdout accuracy per dataset: well above chance, below what
    // scikit-learn's defaults reach on the same data.
    for (dataset, floor) in [("iris", 0.85), ("wine", 0.85), ("breast_cancer", 0.85)] {
        let (train_set, test_set) = holdout(dataset);
        for model in MODEL_NAMES {
            // k-NN is scale-sensitive: wine's proline (in the thousands)
            // drowns the other features, as in scikit-learn without a
            // scaler. A single unpruned tree overfits the small sets.
            let floor = if dataset == "wine" && model == "knn" {
                0.6
            } else if model == "decision_tree" {
                0.75
            } else {
                floor
            };
            let (fitted, _) = train(&config(model, 0), &train_set, &NoProgress).unwrap();
            let metrics = fitted.evaluate(&test_set).unwrap();
            assert!(
                metrics.accuracy >= floor,
                "{model} on {dataset}: accuracy {} < {floor}",
                metrics.accuracy
            );
            let predictions = fitted.predict(&test_set).unwrap();
            if predictions.has_proba {
                for i in 0..predictions.scores.rows() {
                    let sum: f64 = predictions.scores.row(i).iter().sum();
                    assert!((sum - 1.0).abs() < 1e-9, "{model}: probabilities sum to {sum}");
                }
                assert!(metrics.roc_auc.is_some() && metrics.log_loss.is_some());
            } else {
                assert_eq!(model, "linear_svm");
                assert!(metrics.roc_auc.is_none());
            }
        }
    }
}

#[test]
fn fits_are_deterministic_for_a_seed() {
    let (train_set, test_set) = holdout("wine");
    for model in MODEL_NAMES {
        let scores = |seed| {
            let (m, _) = train(&config(model, seed), &train_set, &NoProgress).unwrap();
            m.predict(&test_set).unwrap().scores
        };
        assert_eq!(scores(3), scores(3), "{model} differs between two fits with one seed");
    }
    let forest = |seed| {
        let (m, _) = train(&config("random_forest", seed), &train_set, &NoProgress).unwrap();
        m.predict(&test_set).unwrap().scores
    };
    assert_ne!(forest(1), forest(2), "the seed must change a random forest");
}

#[test]
fn iterative_models_return_a_training_history() {
    let (train_set, _) = holdout("breast_cancer");
    for (model, metric) in [
        ("random_forest", "oob_accuracy"),
        ("gradient_boosting", "train_log_loss"),
        ("logistic_regression", "train_loss"),
        ("linear_svm", "train_objective"),
    ] {
        let (_, history) = train(&config(model, 0), &train_set, &NoProgress).unwrap();
        let points: Vec<_> = history.points.iter().filter(|p| p.metric == metric).collect();
        assert!(points.len() >= 2, "{model}: {} {metric} points", points.len());
        assert!(points.windows(2).all(|w| w[0].step < w[1].step));
    }
}

#[test]
fn model_directory_round_trips_and_rejects_damage() {
    let (train_set, test_set) = holdout("iris");
    let dir = tempfile::tempdir().unwrap();
    for model in MODEL_NAMES {
        let path = dir.path().join(model);
        let (mut fitted, history) = train(&config(model, 0), &train_set, &NoProgress).unwrap();
        fitted.save(&path, &history).unwrap();
        let loaded = Model::load(&path).unwrap();
        assert_eq!(loaded.metadata, fitted.metadata);
        assert_eq!(
            loaded.predict(&test_set).unwrap().scores,
            fitted.predict(&test_set).unwrap().scores,
            "{model}: predictions change after a save and load"
        );
        assert_eq!(loaded.metadata.classes, ["setosa", "versicolor", "virginica"]);
    }
    let path = dir.path().join("random_forest");
    let bytes = std::fs::read(path.join("model.bin")).unwrap();
    std::fs::write(path.join("model.bin"), &bytes[..bytes.len() / 2]).unwrap();
    let err = Model::load(&path).err().unwrap().to_string();
    assert!(err.contains("truncated or corrupted"), "{err}");
    let mut flipped = bytes.clone();
    flipped[100] ^= 0xff;
    std::fs::write(path.join("model.bin"), &flipped).unwrap();
    assert!(Model::load(&path).is_err());
    std::fs::write(path.join("metadata.json"), "{\"format_version\": 99}").unwrap();
    let err = Model::load(&path).err().unwrap().to_string();
    assert!(err.contains("newer retrain"), "{err}");
    std::fs::write(path.join("metadata.json"), "[1, 2").unwrap();
    assert!(Model::load(&path).err().unwrap().to_string().contains("not retrain model metadata"));
    let err = Model::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("not a model directory"), "{err}");
}

#[test]
fn imputation_fills_missing_values_with_training_statistics() {
    let (mut train_set, mut test_set) = holdout("iris");
    let nan_at = |d: &mut Dataset, i: usize| d.x.row_mut(i)[2] = f64::NAN;
    nan_at(&mut train_set, 0);
    train_set.first_missing = Some(data::MissingCell { line: 2, column: "petal_length".into() });
    let err = train(&config("decision_tree", 0), &train_set, &NoProgress).err().unwrap().to_string();
    assert!(err.contains("line 2, column 'petal_length': missing value"), "{err}");
    let mut with_mean = config("decision_tree", 0);
    with_mean.impute = Impute::Mean;
    let (fitted, _) = train(&with_mean, &train_set, &NoProgress).unwrap();
    nan_at(&mut test_set, 0);
    test_set.first_missing = Some(data::MissingCell { line: 2, column: "petal_length".into() });
    assert_eq!(fitted.predict(&test_set).unwrap().class_index.len(), test_set.rows());
}

#[test]
fn shipped_example_configs_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flow/scaffold/configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            ClassifierConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert_eq!(seen, MODEL_NAMES.len(), "one example config per model");
}
