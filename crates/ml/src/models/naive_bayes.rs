//! Gaussian naive Bayes (scikit-learn's `GaussianNB`).
//!
//! A closed form: per-class means and variances (plus `var_smoothing`
//! times the largest feature variance, for stability) and class priors;
//! probabilities come from the joint log-likelihood through a
//! log-sum-exp. Written here rather than borrowed because it is a few
//! dozen lines of arithmetic on our own matrix type.

use serde::{Deserialize, Serialize};

use super::params::{ParamError, ensure};
use super::softmax_in_place;
use crate::data::Matrix;

/// Parameters of `gaussian_nb`, with scikit-learn's names and defaults
/// (`GaussianNB`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianNbParams {
    /// Share of the largest feature variance added to every variance, for
    /// numerical stability; >= 0, default 1e-9.
    pub var_smoothing: f64,
    /// Class priors in class order; `null` to use the training frequencies.
    pub priors: Option<Vec<f64>>,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        GaussianNbParams { var_smoothing: 1e-9, priors: None }
    }
}

impl GaussianNbParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        let v = self.var_smoothing;
        ensure(v >= 0.0 && v.is_finite(), "var_smoothing", || format!("must be >= 0, got {v}"))?;
        if let Some(p) = &self.priors {
            let sum: f64 = p.iter().sum();
            ensure(p.iter().all(|&v| v >= 0.0) && (sum - 1.0).abs() < 1e-6, "priors", || {
                format!("must be non-negative and sum to 1, got {p:?}")
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GaussianNb {
    log_prior: Vec<f64>,
    /// `means[c * d + j]`, likewise `variances`.
    means: Vec<f64>,
    variances: Vec<f64>,
    n_features: usize,
}

pub(crate) fn fit_gaussian_nb(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &GaussianNbParams,
) -> Result<GaussianNb, ParamError> {
    let d = x.cols();
    if let Some(p) = &params.priors {
        ensure(p.len() == n_classes, "priors", || {
            format!("has {} values but the data has {n_classes} classes", p.len())
        })?;
    }
    let mut counts = vec![0usize; n_classes];
    let mut means = vec![0.0; n_classes * d];
    for (i, &c) in y.iter().enumerate() {
        counts[c as usize] += 1;
        let m = &mut means[c as usize * d..(c as usize + 1) * d];
        m.iter_mut().zip(x.row(i)).for_each(|(a, v)| *a += v);
    }
    for c in 0..n_classes {
        let n = counts[c].max(1) as f64;
        means[c * d..(c + 1) * d].iter_mut().for_each(|m| *m /= n);
    }
    let mut variances = vec![0.0; n_classes * d];
    for (i, &c) in y.iter().enumerate() {
        let c = c as usize;
        for j in 0..d {
            let diff = x.get(i, j) - means[c * d + j];
            variances[c * d + j] += diff * diff;
        }
    }
    for c in 0..n_classes {
        let n = counts[c].max(1) as f64;
        variances[c * d..(c + 1) * d].iter_mut().for_each(|v| *v /= n);
    }
    let epsilon = params.var_smoothing * max_feature_variance(x);
    variances.iter_mut().for_each(|v| *v += epsilon);
    let n = y.len() as f64;
    let log_prior = match &params.priors {
        Some(p) => p.iter().map(|v| v.ln()).collect(),
        None => counts.iter().map(|&c| (c as f64 / n).ln()).collect(),
    };
    Ok(GaussianNb { log_prior, means, variances, n_features: d })
}

fn max_feature_variance(x: &Matrix) -> f64 {
    let n = x.rows() as f64;
    (0..x.cols())
        .map(|j| {
            let mean = (0..x.rows()).map(|i| x.get(i, j)).sum::<f64>() / n;
            (0..x.rows()).map(|i| (x.get(i, j) - mean).powi(2)).sum::<f64>() / n
        })
        .fold(0.0, f64::max)
}

impl GaussianNb {
    pub(crate) fn predict_proba(&self, x: &Matrix) -> Matrix {
        let k = self.log_prior.len();
        let d = self.n_features;
        let mut out = Matrix::zeros(x.rows(), k);
        let norm: Vec<f64> = (0..k)
            .map(|c| {
                -0.5 * self.variances[c * d..(c + 1) * d]
                    .iter()
                    .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                    .sum::<f64>()
            })
            .collect();
        for i in 0..x.rows() {
            let row = x.row(i);
            let scores = out.row_mut(i);
            for c in 0..k {
                let squares: f64 = (0..d)
                    .map(|j| (row[j] - self.means[c * d + j]).powi(2) / self.variances[c * d + j])
                    .sum();
                scores[c] = self.log_prior[c] + norm[c] - 0.5 * squares;
            }
            softmax_in_place(scores);
        }
        out
    }

    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.n_features == n_features
            && self.log_prior.len() == n_classes
            && self.means.len() == n_classes * n_features
            && self.variances.len() == n_classes * n_features
    }
}
