//! Histogram gradient boosting (scikit-learn's
//! `HistGradientBoostingClassifier`).
//!
//! Multinomial log loss: each iteration fits one regression tree per class
//! to the gradient and hessian of the softmax loss. Trees grow leaf-wise
//! (best gain first) up to `max_leaf_nodes`, over binned features; the
//! histogram of the larger child is the parent's minus the smaller child's,
//! so each level costs about half a pass over the rows. Class trees of one
//! iteration grow in parallel. Early stopping on a stratified validation
//! split follows scikit-learn's rule (`early_stopping="auto"` turns it on
//! from 10,000 rows). Training and validation loss per iteration are the
//! history.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::Binned;
use super::forest::sub_seed;
use super::params::{ParamError, ensure, ensure_max_bins};
use super::softmax_in_place;
use super::tree::{FlatTree, TreeBuilder, partition};
use crate::data::Matrix;
use crate::metrics::log_loss;
use crate::progress::{History, Progress, Recorder};
use crate::split::stratified;

/// Smallest hessian sum a child may have, as in scikit-learn.
const MIN_HESSIAN_TO_SPLIT: f64 = 1e-3;
/// Rows below which a histogram is built on one thread.
const PARALLEL_HISTOGRAM_ROWS: usize = 4096;

/// Whether boosting holds out `validation_fraction` of the rows and stops
/// when their loss no longer improves; written `"auto"`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub enum EarlyStopping {
    /// On from 10,000 training rows, off below (scikit-learn's default).
    Auto,
    /// Always hold out a validation part and stop early.
    On,
    /// Train on every row for all `max_iter` iterations.
    Off,
}

impl TryFrom<serde_json::Value> for EarlyStopping {
    type Error = String;

    fn try_from(value: serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Bool(true) => Ok(EarlyStopping::On),
            serde_json::Value::Bool(false) => Ok(EarlyStopping::Off),
            serde_json::Value::String(s) if s == "auto" => Ok(EarlyStopping::Auto),
            other => Err(format!("expected \"auto\", true or false, got {other}")),
        }
    }
}

impl From<EarlyStopping> for serde_json::Value {
    fn from(e: EarlyStopping) -> Self {
        match e {
            EarlyStopping::Auto => "auto".into(),
            EarlyStopping::On => true.into(),
            EarlyStopping::Off => false.into(),
        }
    }
}

/// Parameters of `gradient_boosting`, with scikit-learn's names and
/// defaults (`HistGradientBoostingClassifier`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientBoostingParams {
    /// Shrinkage applied to each tree's leaf values; > 0, default 0.1.
    pub learning_rate: f64,
    /// Boosting iterations (one tree per class each), 1..=100000; default 100.
    pub max_iter: usize,
    /// Leaves per tree, >= 2; `None` for no limit (then `max_depth` and
    /// `min_samples_leaf` bound the tree). Default 31.
    pub max_leaf_nodes: Option<usize>,
    /// Deepest level a tree may reach, >= 1; `None` (the default) for no limit.
    pub max_depth: Option<usize>,
    /// Fewest training rows in a leaf, >= 1; default 20.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values, >= 0; default 0.
    pub l2_regularization: f64,
    /// Bins per feature for split search, 2..=255; default 255.
    pub max_bins: usize,
    /// Whether to stop on a held-out validation part; default `"auto"`.
    pub early_stopping: EarlyStopping,
    /// Share of the rows held out for early stopping, in (0, 1); default 0.1.
    pub validation_fraction: f64,
    /// Iterations without an improvement of more than `tol` in validation
    /// loss before stopping, >= 1; default 10.
    pub n_iter_no_change: usize,
    /// Smallest decrease of the validation loss that counts as an
    /// improvement, >= 0; default 1e-7.
    pub tol: f64,
}

impl Default for GradientBoostingParams {
    fn default() -> Self {
        GradientBoostingParams {
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes: Some(31),
            max_depth: None,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: 0.1,
            n_iter_no_change: 10,
            tol: 1e-7,
        }
    }
}

impl GradientBoostingParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        let lr = self.learning_rate;
        ensure(lr > 0.0 && lr.is_finite(), "learning_rate", || format!("must be > 0, got {lr}"))?;
        ensure((1..=100_000).contains(&self.max_iter), "max_iter", || {
            format!("must be between 1 and 100000, got {}", self.max_iter)
        })?;
        ensure(self.max_leaf_nodes.is_none_or(|n| n >= 2), "max_leaf_nodes", || {
            format!("must be >= 2 or null, got {}", self.max_leaf_nodes.unwrap_or_default())
        })?;
        ensure(self.max_depth.is_none_or(|d| d >= 1), "max_depth", || {
            format!("must be >= 1 or null, got {}", self.max_depth.unwrap_or_default())
        })?;
        ensure(self.min_samples_leaf >= 1, "min_samples_leaf", || {
            format!("must be >= 1, got {}", self.min_samples_leaf)
        })?;
        let l2 = self.l2_regularization;
        ensure(l2 >= 0.0 && l2.is_finite(), "l2_regularization", || format!("must be >= 0, got {l2}"))?;
        ensure_max_bins(self.max_bins)?;
        let vf = self.validation_fraction;
        ensure(vf > 0.0 && vf < 1.0, "validation_fraction", || format!("must be in (0, 1), got {vf}"))?;
        ensure(self.n_iter_no_change >= 1, "n_iter_no_change", || {
            format!("must be >= 1, got {}", self.n_iter_no_change)
        })?;
        ensure(self.tol >= 0.0 && self.tol.is_finite(), "tol", || format!("must be >= 0, got {}", self.tol))
    }
}

/// A fitted boosted ensemble: `trees[iteration * n_classes + class]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Boosted {
    baseline: Vec<f64>,
    trees: Vec<FlatTree>,
    n_classes: usize,
}

impl Boosted {
    pub(crate) fn predict_proba(&self, x: &Matrix) -> Matrix {
        let k = self.n_classes;
        let mut out = Matrix::zeros(x.rows(), k);
        out.as_mut_slice().par_chunks_mut(k).enumerate().for_each(|(i, raw)| {
            raw.copy_from_slice(&self.baseline);
            let row = x.row(i);
            for (t, tree) in self.trees.iter().enumerate() {
                raw[t % k] += tree.predict_row(row)[0];
            }
            softmax_in_place(raw);
        });
        out
    }

    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.n_classes == n_classes
            && self.baseline.len() == n_classes
            && self.trees.len().is_multiple_of(n_classes)
            && self
                .trees
                .iter()
                .all(|t| t.is_well_formed(1) && t.max_feature().is_none_or(|f| f < n_features))
    }
}

pub(crate) fn fit_gradient_boosting(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &GradientBoostingParams,
    seed: u64,
    progress: &dyn Progress,
) -> (Boosted, History) {
    let k = n_classes;
    let early = match params.early_stopping {
        EarlyStopping::On => true,
        EarlyStopping::Off => false,
        EarlyStopping::Auto => x.rows() >= 10_000,
    };
    // A validation part too small to hold every class disables early stopping.
    let parts = early
        .then(|| stratified(y, params.validation_fraction, 0.0, sub_seed(seed, u64::MAX)).ok())
        .flatten();
    let (x_train, y_train, validation) = match &parts {
        Some(p) => {
            let yt: Vec<u32> = p.train.iter().map(|&i| y[i]).collect();
            let yv: Vec<u32> = p.validation.iter().map(|&i| y[i]).collect();
            (x.select_rows(&p.train), yt, Some((x.select_rows(&p.validation), yv)))
        }
        None => (x.clone(), y.to_vec(), None),
    };
    let n = x_train.rows();
    let binned = Binned::new(&x_train, params.max_bins);

    let mut counts = vec![0usize; k];
    y_train.iter().for_each(|&c| counts[c as usize] += 1);
    let baseline: Vec<f64> = counts.iter().map(|&c| ((c as f64 / n as f64).max(1e-15)).ln()).collect();
    let mut raw_train: Vec<f64> = baseline.iter().copied().cycle().take(n * k).collect();
    let mut raw_val: Vec<f64> = validation
        .as_ref()
        .map(|(xv, _)| baseline.iter().copied().cycle().take(xv.rows() * k).collect())
        .unwrap_or_default();

    let rules = GrowRules {
        max_leaf_nodes: params.max_leaf_nodes.unwrap_or(usize::MAX),
        max_depth: params.max_depth,
        min_samples_leaf: params.min_samples_leaf,
        l2: params.l2_regularization,
        learning_rate: params.learning_rate,
    };
    let mut recorder = Recorder::new(progress, params.max_iter as u64, "iterations");
    let mut trees = Vec::with_capacity(params.max_iter * k);
    let mut scores = Vec::new();
    if let Some((_, yv)) = &validation {
        scores.push(-loss_of(&raw_val, yv, k));
    }
    let mut gradients = vec![vec![0.0; n]; k];
    let mut hessians = vec![vec![0.0; n]; k];
    for iteration in 0..params.max_iter {
        let mut proba = raw_train.clone();
        proba.par_chunks_mut(k).for_each(softmax_in_place);
        for (i, p) in proba.chunks(k).enumerate() {
            for c in 0..k {
                let target = if y_train[i] as usize == c { 1.0 } else { 0.0 };
                gradients[c][i] = p[c] - target;
                hessians[c][i] = (p[c] * (1.0 - p[c])).max(1e-16);
            }
        }
        let grown: Vec<(FlatTree, Vec<f64>)> = (0..k)
            .into_par_iter()
            .map(|c| grow_regressor(&binned, &gradients[c], &hessians[c], &rules))
            .collect();
        for (c, (tree, deltas)) in grown.into_iter().enumerate() {
            for (i, d) in deltas.iter().enumerate() {
                raw_train[i * k + c] += d;
            }
            if let Some((xv, _)) = &validation {
                raw_val
                    .par_chunks_mut(k)
                    .enumerate()
                    .for_each(|(i, raw)| raw[c] += tree.predict_row(xv.row(i))[0]);
            }
            trees.push(tree);
        }
        let mut metrics = vec![("train_log_loss", loss_of(&raw_train, &y_train, k))];
        if let Some((_, yv)) = &validation {
            let loss = loss_of(&raw_val, yv, k);
            metrics.push(("validation_log_loss", loss));
            scores.push(-loss);
        }
        recorder.record(iteration as u64 + 1, &metrics);
        if validation.is_some() && should_stop(&scores, params.n_iter_no_change, params.tol) {
            break;
        }
    }
    (Boosted { baseline, trees, n_classes: k }, recorder.finish())
}

fn loss_of(raw: &[f64], y: &[u32], k: usize) -> f64 {
    let mut proba = raw.to_vec();
    proba.par_chunks_mut(k).for_each(softmax_in_place);
    log_loss(y, &Matrix::new(y.len(), k, proba))
}

/// scikit-learn's rule: stop when none of the last `n` scores beats the
/// score before them by more than `tol`.
fn should_stop(scores: &[f64], n: usize, tol: f64) -> bool {
    if scores.len() < n + 1 {
        return false;
    }
    let reference = scores[scores.len() - n - 1] + tol;
    !scores[scores.len() - n..].iter().any(|&s| s > reference)
}

struct GrowRules {
    max_leaf_nodes: usize,
    max_depth: Option<usize>,
    min_samples_leaf: usize,
    l2: f64,
    learning_rate: f64,
}

#[derive(Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
}

struct Open {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    hist: Vec<Bin>,
    split: Option<Split>,
}

/// Grows one regression tree leaf-wise; returns it and each row's update.
fn grow_regressor(binned: &Binned, g: &[f64], h: &[f64], rules: &GrowRules) -> (FlatTree, Vec<f64>) {
    let n = g.len();
    let mut rows: Vec<u32> = (0..n as u32).collect();
    let mut builder = TreeBuilder::new(1);
    let root_hist = histogram(binned, &rows, g, h);
    let mut root = Open {
        node: 0,
        start: 0,
        end: n,
        depth: 0,
        g: g.iter().sum(),
        h: h.iter().sum(),
        hist: root_hist,
        split: None,
    };
    root.split = best_split(binned, &root, rules);
    let mut open = vec![root];
    let mut n_leaves = 1;
    while n_leaves < rules.max_leaf_nodes {
        let Some(best) = open
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.split.as_ref().map(|s| (i, s.gain)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
        else {
            break;
        };
        let parent = open.swap_remove(best);
        let Some(split) = parent.split else { break };
        let column = binned.column(split.feature);
        let mid = parent.start
            + partition(&mut rows[parent.start..parent.end], |r| column[r as usize] <= split.bin);
        let left = builder.split(parent.node, split.feature, binned.threshold(split.feature, split.bin));
        let ranges = [(left, parent.start, mid), (left + 1, mid, parent.end)];
        let small = if mid - parent.start <= parent.end - mid { 0 } else { 1 };
        let small_hist = histogram(binned, &rows[ranges[small].1..ranges[small].2], g, h);
        let mut large_hist = parent.hist;
        large_hist.iter_mut().zip(&small_hist).for_each(|(p, s)| {
            p.g -= s.g;
            p.h -= s.h;
            p.n -= s.n;
        });
        let mut hists = [Some(small_hist), Some(large_hist)];
        if small == 1 {
            hists.swap(0, 1);
        }
        for ((node, start, end), hist) in ranges.into_iter().zip(hists) {
            let hist = hist.unwrap_or_default();
            let (sg, sh) =
                hist[..binned.n_bins(0)].iter().fold((0.0, 0.0), |(a, b), bin| (a + bin.g, b + bin.h));
            let mut child =
                Open { node, start, end, depth: parent.depth + 1, g: sg, h: sh, hist, split: None };
            child.split = best_split(binned, &child, rules);
            open.push(child);
        }
        n_leaves += 1;
    }
    let mut deltas = vec![0.0; n];
    for leaf in open {
        let value = -rules.learning_rate * leaf.g / (leaf.h + rules.l2);
        builder.leaf(leaf.node, &[value]);
        for &r in &rows[leaf.start..leaf.end] {
            deltas[r as usize] = value;
        }
    }
    (builder.finish(), deltas)
}

/// Gradient/hessian/count sums per feature and bin (256 slots per feature).
fn histogram(binned: &Binned, rows: &[u32], g: &[f64], h: &[f64]) -> Vec<Bin> {
    let mut hist = vec![Bin::default(); binned.features() * 256];
    let fill = |(f, slots): (usize, &mut [Bin])| {
        let column = binned.column(f);
        for &r in rows {
            let r = r as usize;
            let slot = &mut slots[column[r] as usize];
            slot.g += g[r];
            slot.h += h[r];
            slot.n += 1;
        }
    };
    if rows.len() >= PARALLEL_HISTOGRAM_ROWS {
        hist.par_chunks_mut(256).enumerate().for_each(fill);
    } else {
        hist.chunks_mut(256).enumerate().for_each(fill);
    }
    hist
}

fn best_split(binned: &Binned, node: &Open, rules: &GrowRules) -> Option<Split> {
    let n = (node.end - node.start) as u32;
    let too_deep = rules.max_depth.is_some_and(|d| node.depth >= d);
    if too_deep || (n as usize) < 2 * rules.min_samples_leaf {
        return None;
    }
    let min_leaf = rules.min_samples_leaf as u32;
    let parent_score = node.g * node.g / (node.h + rules.l2);
    let mut best: Option<Split> = None;
    for f in 0..binned.features() {
        let slots = &node.hist[f * 256..f * 256 + binned.n_bins(f)];
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
        for (b, slot) in slots[..slots.len() - 1].iter().enumerate() {
            gl += slot.g;
            hl += slot.h;
            nl += slot.n;
            let nr = n - nl;
            if nl < min_leaf {
                continue;
            }
            if nr < min_leaf {
                break;
            }
            let (gr, hr) = (node.g - gl, node.h - hl);
            if hl < MIN_HESSIAN_TO_SPLIT || hr < MIN_HESSIAN_TO_SPLIT {
                continue;
            }
            let gain = gl * gl / (hl + rules.l2) + gr * gr / (hr + rules.l2) - parent_score;
            if gain > 0.0 && best.as_ref().is_none_or(|s| gain > s.gain) {
                best = Some(Split { gain, feature: f, bin: b as u8 });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::should_stop;

    #[test]
    fn early_stopping_follows_scikit_learn() {
        assert!(!should_stop(&[-1.0, -0.9], 2, 0.0));
        assert!(should_stop(&[-1.0, -1.0, -1.0], 2, 0.0));
        assert!(!should_stop(&[-1.0, -1.0, -0.99], 2, 0.0));
        assert!(should_stop(&[-1.0, -1.0, -0.99], 2, 0.1));
    }
}
