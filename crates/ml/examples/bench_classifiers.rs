//! The retrain side of the classifier benchmark (`bench/ml/run.sh`).
//!
//! `bench_classifiers TRAIN.csv TEST.csv TARGET [MODEL...]` fits every
//! classifier with scikit-learn's defaults (100 trees for the forest) on
//! TRAIN, predicts TEST and prints one JSON line per model: fit and
//! predict wall seconds, fit CPU seconds and accuracy. CSV parsing is not
//! timed, as on the scikit-learn side.

use std::path::Path;
use std::time::Instant;

use retrain_ml::NoProgress;
use retrain_ml::data;
use retrain_ml::models::{MODEL_NAMES, ModelSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: bench_classifiers TRAIN.csv TEST.csv TARGET [MODEL...]".into());
    }
    let train = data::read_csv(Path::new(&args[0]), Some(&args[2]))?;
    let test = data::read_csv(Path::new(&args[1]), Some(&args[2]))?;
    let classes = data::classes_of(&train.require_target()?.labels);
    let y_train = train.require_target()?.encode(&classes)?;
    let y_test = test.require_target()?.encode(&classes)?;
    let x_test = test.aligned_to(&train.features, &[])?;
    let wanted: Vec<&str> =
        if args.len() > 3 { args[3..].iter().map(String::as_str).collect() } else { MODEL_NAMES.to_vec() };
    for name in wanted {
        let spec = ModelSpec::parse(name, serde_json::json!({}))?;
        let cpu = cpu_seconds();
        let start = Instant::now();
        let (estimator, _) = spec.fit(&train.x, &y_train, classes.len(), 0, &NoProgress)?;
        let fit_s = start.elapsed().as_secs_f64();
        let fit_cpu_s = cpu_seconds() - cpu;
        let start = Instant::now();
        let scores = estimator.scores(&x_test);
        let predicted: Vec<usize> =
            (0..scores.rows()).map(|i| retrain_ml::models::argmax(scores.row(i))).collect();
        let predict_s = start.elapsed().as_secs_f64();
        let correct = predicted.iter().zip(&y_test).filter(|(p, t)| **p == **t as usize).count();
        println!(
            "{}",
            serde_json::json!({
                "side": "retrain", "model": name, "fit_s": fit_s, "fit_cpu_s": fit_cpu_s,
                "predict_s": predict_s, "accuracy": correct as f64 / y_test.len() as f64,
            })
        );
    }
    Ok(())
}

/// CPU time of this process (all threads) from /proc, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
