//! Classification metrics with scikit-learn's definitions.
//!
//! Averages follow `sklearn.metrics`: macro over the classes present in
//! the true or predicted labels, weighted by true support, zero where a
//! ratio is undefined (`zero_division=0`). ROC AUC is one-vs-rest macro
//! (the positive class's probability for two classes) and tie-aware; log
//! loss clips probabilities to machine epsilon. Both need probabilities
//! and are absent for models without them.

use serde::{Deserialize, Serialize};

use crate::data::Matrix;

/// The metrics of one set of predictions against the true labels; every
/// ratio is in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows scored.
    pub n_samples: usize,
    /// Share of rows predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean of the per-class precisions.
    pub precision_macro: f64,
    /// Unweighted mean of the per-class recalls.
    pub recall_macro: f64,
    /// Unweighted mean of the per-class F1 scores.
    pub f1_macro: f64,
    /// Mean of the per-class precisions weighted by true class size.
    pub precision_weighted: f64,
    /// Mean of the per-class recalls weighted by true class size.
    pub recall_weighted: f64,
    /// Mean of the per-class F1 scores weighted by true class size.
    pub f1_weighted: f64,
    /// One-vs-rest macro ROC AUC; `None` without probabilities or when a
    /// class has no true sample.
    pub roc_auc: Option<f64>,
    /// Mean negative log-likelihood of the true class (>= 0, lower is
    /// better); `None` without probabilities.
    pub log_loss: Option<f64>,
    /// The class labels, in the order of the confusion matrix.
    pub classes: Vec<String>,
    /// Rows are true classes, columns predicted classes, in `classes` order.
    pub confusion_matrix: Vec<Vec<u64>>,
}

impl Metrics {
    /// Computes every metric. `proba`, when given, has one column per class.
    pub fn compute(y_true: &[u32], y_pred: &[u32], proba: Option<&Matrix>, classes: &[String]) -> Metrics {
        let k = classes.len();
        let n = y_true.len();
        let mut confusion = vec![vec![0u64; k]; k];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            confusion[t as usize][p as usize] += 1;
        }
        let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
        let support: Vec<u64> = confusion.iter().map(|row| row.iter().sum()).collect();
        let predicted: Vec<u64> = (0..k).map(|c| confusion.iter().map(|row| row[c]).sum()).collect();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut macro_sum = [0.0; 3];
        let mut weighted_sum = [0.0; 3];
        let mut present = 0usize;
        for c in 0..k {
            if support[c] == 0 && predicted[c] == 0 {
                continue;
            }
            present += 1;
            let tp = confusion[c][c];
            let precision = ratio(tp, predicted[c]);
            let recall = ratio(tp, support[c]);
            let f1 =
                if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            for (i, v) in [precision, recall, f1].into_iter().enumerate() {
                macro_sum[i] += v;
                weighted_sum[i] += v * support[c] as f64;
            }
        }
        let macro_avg = |i: usize| {
            if present == 0 { 0.0 } else { macro_sum[i] / present as f64 }
        };
        let weighted_avg = |i: usize| if n == 0 { 0.0 } else { weighted_sum[i] / n as f64 };
        Metrics {
            n_samples: n,
            accuracy: ratio(correct, n as u64),
            precision_macro: macro_avg(0),
            recall_macro: macro_avg(1),
            f1_macro: macro_avg(2),
            precision_weighted: weighted_avg(0),
            recall_weighted: weighted_avg(1),
            f1_weighted: weighted_avg(2),
            roc_auc: proba.and_then(|p| roc_auc_ovr(y_true, p)),
            log_loss: proba.map(|p| log_loss(y_true, p)),
            classes: classes.to_vec(),
            confusion_matrix: confusion,
        }
    }

    /// The scalar metrics by name, for logging to tracking and comparing models.
    pub fn scalars(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("accuracy", self.accuracy),
            ("precision_macro", self.precision_macro),
            ("recall_macro", self.recall_macro),
            ("f1_macro", self.f1_macro),
            ("precision_weighted", self.precision_weighted),
            ("recall_weighted", self.recall_weighted),
            ("f1_weighted", self.f1_weighted),
        ];
        if let Some(v) = self.roc_auc {
            out.push(("roc_auc", v));
        }
        if let Some(v) = self.log_loss {
            out.push(("log_loss", v));
        }
        out
    }
}

/// Mean negative log-likelihood of the true class, probabilities clipped.
pub(crate) fn log_loss(y_true: &[u32], proba: &Matrix) -> f64 {
    let eps = f64::EPSILON;
    let total: f64 =
        y_true.iter().enumerate().map(|(i, &t)| -proba.get(i, t as usize).clamp(eps, 1.0 - eps).ln()).sum();
    total / y_true.len().max(1) as f64
}

fn roc_auc_ovr(y_true: &[u32], proba: &Matrix) -> Option<f64> {
    let k = proba.cols();
    let scores = |c: usize| (0..proba.rows()).map(move |i| proba.get(i, c));
    if k == 2 {
        let positive: Vec<bool> = y_true.iter().map(|&t| t == 1).collect();
        return binary_auc(&positive, &scores(1).collect::<Vec<_>>());
    }
    let mut total = 0.0;
    for c in 0..k {
        let positive: Vec<bool> = y_true.iter().map(|&t| t as usize == c).collect();
        total += binary_auc(&positive, &scores(c).collect::<Vec<_>>())?;
    }
    Some(total / k as f64)
}

/// AUC as the Mann-Whitney statistic with average ranks for ties.
fn binary_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end + 1) as f64 / 2.0;
        rank_sum += average_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let n_pos = n_pos as f64;
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg as f64))
}
