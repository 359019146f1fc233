//! Linear models fitted by L-BFGS: logistic regression (scikit-learn's
//! `LogisticRegression`, multinomial, L2) and a linear SVM (`LinearSVC`,
//! squared hinge, one-vs-rest).
//!
//! Objectives are scaled by the number of rows (mean loss plus
//! `|w|^2 / (2 C n)`), which has the same minimiser as scikit-learn's and
//! keeps the optimizer's tolerances independent of the data size. With two
//! classes logistic regression has one weight vector (class 0's logit is
//! fixed at zero), exactly scikit-learn's binary model. The intercept is
//! not penalised. Loss and gradient are summed over row chunks in
//! parallel, then combined in a fixed order, so results are deterministic.

use std::marker::PhantomData;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{ParamError, ensure};
use super::softmax_in_place;
use crate::data::Matrix;
use crate::optimize::{self, Options};
use crate::progress::{History, Progress, Recorder};

const CHUNK: usize = 2048;

/// The default iteration budget of a linear model, the one thing in which
/// the two parameter sets differ (scikit-learn: 100 for
/// `LogisticRegression`, 1000 for `LinearSVC`).
pub trait IterationBudget {
    /// The default of `max_iter`.
    const MAX_ITER: usize;
}

/// The budget of logistic regression: 100 iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticBudget;

impl IterationBudget for LogisticBudget {
    const MAX_ITER: usize = 100;
}

/// The budget of the linear SVM: 1000 iterations.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmBudget;

impl IterationBudget for SvmBudget {
    const MAX_ITER: usize = 1000;
}

/// Parameters of the linear models, with scikit-learn's names; `B` only
/// sets the default of `max_iter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, bound = "")]
pub struct LinearParams<B: IterationBudget> {
    /// Inverse regularisation strength (`C`), > 0: smaller means a larger
    /// L2 penalty on the weights. Default 1.
    #[serde(rename = "C")]
    pub c: f64,
    /// L-BFGS iterations before giving up (with a warning in the
    /// history), 1..=1000000; default 100 (logistic) or 1000 (SVM).
    pub max_iter: usize,
    /// Converged when the largest gradient component is at most this; > 0,
    /// default 1e-4.
    pub tol: f64,
    /// Whether to learn an unpenalised intercept; default true.
    pub fit_intercept: bool,
    #[serde(skip)]
    budget: PhantomData<B>,
}

/// Parameters of `logistic_regression` (`LogisticRegression`).
pub type LogisticParams = LinearParams<LogisticBudget>;
/// Parameters of `linear_svm` (`LinearSVC`).
pub type SvmParams = LinearParams<SvmBudget>;

impl<B: IterationBudget> Default for LinearParams<B> {
    fn default() -> Self {
        LinearParams { c: 1.0, max_iter: B::MAX_ITER, tol: 1e-4, fit_intercept: true, budget: PhantomData }
    }
}

impl<B: IterationBudget> LinearParams<B> {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        ensure(self.c > 0.0 && self.c.is_finite(), "C", || format!("must be > 0, got {}", self.c))?;
        ensure((1..=1_000_000).contains(&self.max_iter), "max_iter", || {
            format!("must be between 1 and 1000000, got {}", self.max_iter)
        })?;
        ensure(self.tol > 0.0 && self.tol.is_finite(), "tol", || format!("must be > 0, got {}", self.tol))
    }

    fn options(&self) -> Options {
        Options { max_iter: self.max_iter, gtol: self.tol, memory: 10 }
    }
}

/// Weight rows `[w_1 .. w_d, b]`, one per output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Linear {
    weights: Vec<f64>,
    n_features: usize,
    n_classes: usize,
}

impl Linear {
    fn outputs(&self) -> usize {
        self.weights.len() / (self.n_features + 1)
    }

    fn scores_into(&self, row: &[f64], out: &mut [f64]) {
        let width = self.n_features + 1;
        let rows = self.weights.chunks(width).map(|w| linear(w, row));
        if self.outputs() == 1 {
            // One weight vector for two classes.
            let z = rows.sum::<f64>();
            out[0] = -z;
            out[1] = z;
        } else {
            out.iter_mut().zip(rows).for_each(|(o, z)| *o = z);
        }
    }

    /// Decision values, one column per class (argmax is the prediction).
    pub(crate) fn decision_function(&self, x: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(x.rows(), self.n_classes);
        out.as_mut_slice()
            .par_chunks_mut(self.n_classes)
            .enumerate()
            .for_each(|(i, scores)| self.scores_into(x.row(i), scores));
        out
    }

    /// Class probabilities of a logistic model.
    pub(crate) fn predict_proba(&self, x: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(x.rows(), self.n_classes);
        let binary = self.outputs() == 1;
        out.as_mut_slice().par_chunks_mut(self.n_classes).enumerate().for_each(|(i, p)| {
            let z = linear(&self.weights, x.row(i));
            if binary {
                p[1] = 1.0 / (1.0 + (-z).exp());
                p[0] = 1.0 - p[1];
            } else {
                self.scores_into(x.row(i), p);
                softmax_in_place(p);
            }
        });
        out
    }

    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        let outputs = self.outputs();
        self.n_features == n_features
            && self.n_classes == n_classes
            && self.weights.len().is_multiple_of(n_features + 1)
            && (outputs == n_classes || (n_classes == 2 && outputs == 1))
    }
}

/// `w . row + b` for a weight row `[w.., b]`.
fn linear(w: &[f64], row: &[f64]) -> f64 {
    let d = row.len();
    crate::optimize::dot(&w[..d], row) + w[d]
}

/// Sums per-chunk (loss, gradient) in chunk order.
fn chunked_objective(
    n_rows: usize,
    n_params: usize,
    per_chunk: impl Fn(std::ops::Range<usize>, &mut [f64]) -> f64 + Sync,
    grad: &mut [f64],
) -> f64 {
    let parts: Vec<(f64, Vec<f64>)> = (0..n_rows.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut g = vec![0.0; n_params];
            let loss = per_chunk(c * CHUNK..((c + 1) * CHUNK).min(n_rows), &mut g);
            (loss, g)
        })
        .collect();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    for (l, g) in parts {
        loss += l;
        grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    loss
}

/// Adds `|w|^2 / (2 C n)` (intercepts excluded) and scales by `1 / n`.
fn regularize(loss: f64, w: &[f64], grad: &mut [f64], width: usize, c: f64, n: usize) -> f64 {
    let n = n as f64;
    let lambda = 1.0 / (c * n);
    let mut penalty = 0.0;
    for (j, (g, &wj)) in grad.iter_mut().zip(w).enumerate() {
        *g /= n;
        if j % width != width - 1 {
            penalty += wj * wj;
            *g += lambda * wj;
        }
    }
    loss / n + 0.5 * lambda * penalty
}

fn intercept_mask(w: &mut [f64], width: usize, fit_intercept: bool) {
    if !fit_intercept {
        w.iter_mut().skip(width - 1).step_by(width).for_each(|b| *b = 0.0);
    }
}

pub(crate) fn fit_logistic(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &LogisticParams,
    progress: &dyn Progress,
) -> (Linear, History) {
    let d = x.cols();
    let width = d + 1;
    let outputs = if n_classes == 2 { 1 } else { n_classes };
    let n_params = outputs * width;
    let objective = |w: &[f64], grad: &mut [f64]| {
        let loss = chunked_objective(
            x.rows(),
            n_params,
            |rows, g| {
                let mut loss = 0.0;
                let mut p = vec![0.0; outputs];
                for i in rows {
                    let row = x.row(i);
                    let label = y[i] as usize;
                    for (o, pw) in p.iter_mut().zip(w.chunks(width)) {
                        *o = linear(pw, row);
                    }
                    if outputs == 1 {
                        let z = p[0];
                        let target = label as f64;
                        // log(1 + e^z) - y z, computed stably.
                        loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - target * z;
                        p[0] = 1.0 / (1.0 + (-z).exp()) - target;
                    } else {
                        let max = p.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
                        let sum: f64 = p.iter().map(|v| (v - max).exp()).sum();
                        loss += max + sum.ln() - p[label];
                        softmax_in_place(&mut p);
                        p[label] -= 1.0;
                    }
                    for (o, residual) in p.iter().enumerate() {
                        let gw = &mut g[o * width..(o + 1) * width];
                        gw[..d].iter_mut().zip(row).for_each(|(a, v)| *a += residual * v);
                        gw[d] += residual;
                    }
                }
                loss
            },
            grad,
        );
        let value = regularize(loss, w, grad, width, params.c, x.rows());
        intercept_mask(grad, width, params.fit_intercept);
        value
    };
    let mut recorder = Recorder::new(progress, params.max_iter as u64, "iterations");
    let options = params.options();
    let outcome = optimize::minimize(objective, vec![0.0; n_params], &options, |i, loss| {
        recorder.record(i as u64, &[("train_loss", loss)]);
    });
    if !outcome.converged {
        recorder.warn(format!(
            "L-BFGS did not converge in {} iterations; raise max_iter or scale the features",
            outcome.iterations
        ));
    }
    (Linear { weights: outcome.x, n_features: d, n_classes }, recorder.finish())
}

pub(crate) fn fit_linear_svm(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &SvmParams,
    progress: &dyn Progress,
) -> (Linear, History) {
    let d = x.cols();
    let width = d + 1;
    let problems: Vec<u32> = if n_classes == 2 { vec![1] } else { (0..n_classes as u32).collect() };
    let mut recorder = Recorder::new(progress, params.max_iter as u64, "iterations");
    let solved: Vec<(Vec<f64>, Vec<f64>, bool)> = problems
        .par_iter()
        .map(|&positive| {
            let objective = |w: &[f64], grad: &mut [f64]| {
                let loss = chunked_objective(
                    x.rows(),
                    width,
                    |rows, g| {
                        let mut loss = 0.0;
                        for i in rows {
                            let row = x.row(i);
                            let sign = if y[i] == positive { 1.0 } else { -1.0 };
                            let margin = 1.0 - sign * linear(w, row);
                            if margin > 0.0 {
                                loss += margin * margin;
                                let coef = -2.0 * margin * sign;
                                g[..d].iter_mut().zip(row).for_each(|(a, v)| *a += coef * v);
                                g[d] += coef;
                            }
                        }
                        loss
                    },
                    grad,
                );
                let value = regularize(loss, w, grad, width, params.c, x.rows());
                intercept_mask(grad, width, params.fit_intercept);
                value
            };
            let options = params.options();
            let mut trace = Vec::new();
            let outcome = optimize::minimize(objective, vec![0.0; width], &options, |_, v| trace.push(v));
            (outcome.x, trace, outcome.converged)
        })
        .collect();
    let mut weights = Vec::with_capacity(problems.len() * width);
    let longest = solved.iter().map(|s| s.1.len()).max().unwrap_or(0);
    for step in 0..longest {
        // The summed objective of the one-vs-rest problems, each held at
        // its last value once it has converged.
        let total: f64 = solved.iter().filter_map(|s| s.1.get(step).or(s.1.last())).sum();
        recorder.record(step as u64 + 1, &[("train_objective", total)]);
    }
    for (&positive, (w, _, converged)) in problems.iter().zip(solved) {
        if !converged {
            recorder.warn(format!(
                "class {positive}: L-BFGS did not converge in {} iterations; raise max_iter",
                params.max_iter
            ));
        }
        weights.extend(w);
    }
    (Linear { weights, n_features: d, n_classes }, recorder.finish())
}
