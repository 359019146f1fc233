//! Random forest and single decision tree classifiers (scikit-learn's
//! `RandomForestClassifier` and `DecisionTreeClassifier`).
//!
//! Trees are grown by the histogram CART learner in [`super::tree`]: the
//! forest draws a bootstrap sample per tree and `max_features` candidate
//! features per split, grows trees in parallel with rayon, and averages
//! the trees' class probabilities. Every tree has its own seed derived
//! from the forest's, so results do not depend on the number of threads.
//! With bootstrap on, the out-of-bag accuracy after each batch of trees is
//! the training history.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::Binned;
use super::params::{MaxFeatures, ParamError, ensure, ensure_max_bins, ensure_n_jobs};
use super::tree::{CartData, CartRules, FlatTree, grow_classifier};
use crate::data::Matrix;
use crate::progress::{History, NoProgress, OUT_OF_BAG_ACCURACY, Progress, Recorder};

/// Rows per parallel work unit when predicting.
const PREDICT_CHUNK: usize = 1024;

/// Parameters of `random_forest`, with scikit-learn's names and defaults
/// (`RandomForestClassifier`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomForestParams {
    /// Trees in the forest, 1..=100000; default 100.
    pub n_estimators: usize,
    /// Deepest level a tree may reach, >= 1; `None` (the default) grows
    /// until leaves are pure or too small to split.
    pub max_depth: Option<usize>,
    /// Fewest rows a node needs to be split, >= 2; default 2.
    pub min_samples_split: usize,
    /// Fewest rows on each side of a split, >= 1; default 1.
    pub min_samples_leaf: usize,
    /// Features examined per split; default `"sqrt"` of the feature count.
    pub max_features: MaxFeatures,
    /// Whether each tree sees a bootstrap sample (and the out-of-bag
    /// accuracy is recorded) rather than every row; default true.
    pub bootstrap: bool,
    /// Bins per feature for split search, 2..=255; default 255.
    pub max_bins: usize,
    /// Threads to grow trees on, >= 1; `None` or -1 for every core.
    pub n_jobs: Option<i64>,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        RandomForestParams {
            n_estimators: 100,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            max_bins: 255,
            n_jobs: None,
        }
    }
}

impl RandomForestParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        ensure((1..=100_000).contains(&self.n_estimators), "n_estimators", || {
            format!("must be between 1 and 100000, got {}", self.n_estimators)
        })?;
        validate_tree_rules(self.max_depth, self.min_samples_split, self.min_samples_leaf)?;
        ensure_max_bins(self.max_bins)?;
        ensure_n_jobs(self.n_jobs)
    }
}

/// Parameters of `decision_tree`, with scikit-learn's names and defaults
/// (`DecisionTreeClassifier`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionTreeParams {
    /// Deepest level the tree may reach, >= 1; `None` (the default) grows
    /// until leaves are pure or too small to split.
    pub max_depth: Option<usize>,
    /// Fewest rows a node needs to be split, >= 2; default 2.
    pub min_samples_split: usize,
    /// Fewest rows on each side of a split, >= 1; default 1.
    pub min_samples_leaf: usize,
    /// Features examined per split; default all of them.
    pub max_features: MaxFeatures,
    /// Bins per feature for split search, 2..=255; default 255.
    pub max_bins: usize,
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        DecisionTreeParams {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            max_bins: 255,
        }
    }
}

impl DecisionTreeParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        validate_tree_rules(self.max_depth, self.min_samples_split, self.min_samples_leaf)?;
        ensure_max_bins(self.max_bins)
    }
}

fn validate_tree_rules(
    max_depth: Option<usize>,
    min_split: usize,
    min_leaf: usize,
) -> Result<(), ParamError> {
    ensure(max_depth.is_none_or(|d| d >= 1), "max_depth", || {
        format!("must be >= 1 or null, got {}", max_depth.unwrap_or_default())
    })?;
    ensure(min_split >= 2, "min_samples_split", || format!("must be >= 2, got {min_split}"))?;
    ensure(min_leaf >= 1, "min_samples_leaf", || format!("must be >= 1, got {min_leaf}"))
}

/// A fitted ensemble of probability trees (one tree for a decision tree).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Forest {
    trees: Vec<FlatTree>,
    n_classes: usize,
}

impl Forest {
    /// Mean of the trees' class probabilities for each row.
    pub(crate) fn predict_proba(&self, x: &Matrix) -> Matrix {
        let k = self.n_classes;
        let mut out = Matrix::zeros(x.rows(), k);
        let scale = 1.0 / self.trees.len() as f64;
        out.as_mut_slice().par_chunks_mut(PREDICT_CHUNK * k).enumerate().for_each(|(chunk, block)| {
            for tree in &self.trees {
                tree.accumulate(x, chunk * PREDICT_CHUNK, block);
            }
            block.iter_mut().for_each(|v| *v *= scale);
        });
        out
    }

    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.n_classes == n_classes
            && !self.trees.is_empty()
            && self
                .trees
                .iter()
                .all(|t| t.is_well_formed(n_classes) && t.max_feature().is_none_or(|f| f < n_features))
    }
}

/// Derives an independent seed for item `index` of a seeded collection.
pub(crate) fn sub_seed(seed: u64, index: u64) -> u64 {
    // SplitMix64 finaliser.
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn fit_random_forest(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &RandomForestParams,
    seed: u64,
    progress: &dyn Progress,
) -> (Forest, History) {
    let binned = Binned::new(x, params.max_bins);
    let rules = CartRules {
        max_depth: params.max_depth,
        min_samples_split: params.min_samples_split,
        min_samples_leaf: params.min_samples_leaf,
        max_features: params.max_features.resolve(x.cols()),
    };
    let n = x.rows();
    let total = params.n_estimators;
    let batch = total.div_ceil(20).max(1);
    let mut recorder = Recorder::new(progress, total as u64, "trees");
    let mut trees = Vec::with_capacity(total);
    let mut oob_sum = vec![0.0; if params.bootstrap { n * n_classes } else { 0 }];
    let mut start = 0;
    while start < total {
        let end = (start + batch).min(total);
        let grown: Vec<(FlatTree, Vec<u32>)> = (start..end)
            .into_par_iter()
            .map(|t| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(sub_seed(seed, t as u64));
                let weights = if params.bootstrap {
                    let mut w = vec![0u32; n];
                    for _ in 0..n {
                        w[rng.random_range(0..n)] += 1;
                    }
                    w
                } else {
                    Vec::new()
                };
                let mut rows: Vec<u32> = if params.bootstrap {
                    (0..n as u32).filter(|&r| weights[r as usize] > 0).collect()
                } else {
                    (0..n as u32).collect()
                };
                let data = CartData {
                    binned: &binned,
                    y,
                    weights: params.bootstrap.then_some(weights.as_slice()),
                    n_classes,
                };
                (grow_classifier(&data, &mut rows, &rules, &mut rng), weights)
            })
            .collect();
        let mut metrics = Vec::new();
        if params.bootstrap {
            add_out_of_bag(x, &grown, n_classes, &mut oob_sum);
            if let Some(accuracy) = out_of_bag_accuracy(&oob_sum, y, n_classes) {
                metrics.push((OUT_OF_BAG_ACCURACY, accuracy));
            }
        }
        trees.extend(grown.into_iter().map(|(tree, _)| tree));
        recorder.record(end as u64, &metrics);
        start = end;
    }
    (Forest { trees, n_classes }, recorder.finish())
}

fn add_out_of_bag(x: &Matrix, grown: &[(FlatTree, Vec<u32>)], k: usize, oob_sum: &mut [f64]) {
    oob_sum.par_chunks_mut(PREDICT_CHUNK * k).enumerate().for_each(|(chunk, block)| {
        let first = chunk * PREDICT_CHUNK;
        for (tree, weights) in grown {
            for (i, acc) in block.chunks_mut(k).enumerate() {
                let row = first + i;
                if weights[row] == 0 {
                    let leaf = tree.predict_row(x.row(row));
                    acc.iter_mut().zip(leaf).for_each(|(a, v)| *a += v);
                }
            }
        }
    });
}

fn out_of_bag_accuracy(oob_sum: &[f64], y: &[u32], k: usize) -> Option<f64> {
    let mut voted = 0usize;
    let mut correct = 0usize;
    for (row, votes) in oob_sum.chunks(k).enumerate() {
        if votes.iter().all(|&v| v == 0.0) {
            continue;
        }
        voted += 1;
        if super::argmax(votes) == y[row] as usize {
            correct += 1;
        }
    }
    (voted > 0).then(|| correct as f64 / voted as f64)
}

/// A decision tree is a forest of one tree grown on every row.
pub(crate) fn fit_decision_tree(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &DecisionTreeParams,
    seed: u64,
) -> Forest {
    let one_tree = RandomForestParams {
        n_estimators: 1,
        max_depth: params.max_depth,
        min_samples_split: params.min_samples_split,
        min_samples_leaf: params.min_samples_leaf,
        max_features: params.max_features,
        bootstrap: false,
        max_bins: params.max_bins,
        n_jobs: None,
    };
    fit_random_forest(x, y, n_classes, &one_tree, seed, &NoProgress).0
}
