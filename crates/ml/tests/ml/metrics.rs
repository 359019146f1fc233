//! Metrics checked against values scikit-learn computed on the same inputs
//! (`fixtures/metrics_sklearn.json`).

use retrain_ml::data::Matrix;
use retrain_ml::metrics::Metrics;
use serde_json::Value;

#[test]
fn metrics_match_scikit_learn() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/metrics_sklearn.json")).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let ints = |key: &str| -> Vec<u32> {
            case[key].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
        };
        let rows: Vec<Vec<f64>> = serde_json::from_value(case["proba"].clone()).unwrap();
        let k = rows[0].len();
        let proba = Matrix::new(rows.len(), k, rows.concat());
        let classes: Vec<String> = (0..k).map(|c| c.to_string()).collect();
        let m = Metrics::compute(&ints("y_true"), &ints("y_pred"), Some(&proba), &classes);
        let close = |key: &str, got: f64| {
            let want = case[key].as_f64().unwrap();
            assert!((got - want).abs() < 1e-9, "{name}: {key} = {got}, scikit-learn {want}");
        };
        close("accuracy", m.accuracy);
        close("precision_macro", m.precision_macro);
        close("recall_macro", m.recall_macro);
        close("f1_macro", m.f1_macro);
        close("precision_weighted", m.precision_weighted);
        close("recall_weighted", m.recall_weighted);
        close("f1_weighted", m.f1_weighted);
        close("roc_auc", m.roc_auc.unwrap());
        close("log_loss", m.log_loss.unwrap());
        let confusion: Vec<Vec<u64>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
        assert_eq!(m.confusion_matrix, confusion, "{name}: confusion matrix");
    }
}
