//! Decision trees: a flat array representation for fast prediction, and
//! the CART classification learner (Gini) over binned features used by the
//! decision tree and the random forest.
//!
//! Split search builds, per node and candidate feature, a class histogram
//! over the feature's bins; only the bins present in the node are visited
//! (a 256-bit set iterated in order), so deep nodes with few rows cost
//! little. Rows are partitioned in place, depth first.

use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::bins::Binned;
use crate::data::Matrix;

const LEAF: u32 = u32::MAX;

/// One node: internal nodes test `row[feature] <= threshold` and go to
/// `left` or `left + 1`; leaves (`feature == LEAF`) hold in `left` the
/// index of their values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Node {
    threshold: f64,
    feature: u32,
    left: u32,
}

/// A fitted tree; each leaf holds `width` values (class probabilities for
/// classification, one raw score for boosting).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlatTree {
    nodes: Vec<Node>,
    values: Vec<f64>,
    width: usize,
}

impl FlatTree {
    /// The values of the leaf `row` falls in.
    pub(crate) fn predict_row(&self, row: &[f64]) -> &[f64] {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            let next = if row[node.feature as usize] <= node.threshold { node.left } else { node.left + 1 };
            node = self.nodes[next as usize];
        }
        let at = node.left as usize * self.width;
        &self.values[at..at + self.width]
    }

    /// Adds the leaf values of rows `first..first + out.len() / width` of
    /// `x` to `out`. Rows descend in groups of eight in lockstep, so eight
    /// independent memory loads are in flight instead of one: traversal is
    /// bound by memory latency, not arithmetic.
    pub(crate) fn accumulate(&self, x: &Matrix, first: usize, out: &mut [f64]) {
        const LANES: usize = 8;
        let width = self.width;
        for (group, out) in out.chunks_mut(LANES * width).enumerate() {
            let start = first + group * LANES;
            let lanes = out.len() / width;
            let mut at = [0u32; LANES];
            loop {
                let mut moving = false;
                for (lane, index) in at.iter_mut().enumerate().take(lanes) {
                    let node = self.nodes[*index as usize];
                    if node.feature != LEAF {
                        moving = true;
                        let value = x.get(start + lane, node.feature as usize);
                        *index = if value <= node.threshold { node.left } else { node.left + 1 };
                    }
                }
                if !moving {
                    break;
                }
            }
            for (lane, acc) in out.chunks_mut(width).enumerate() {
                let leaf = self.nodes[at[lane] as usize].left as usize * width;
                acc.iter_mut().zip(&self.values[leaf..leaf + width]).for_each(|(a, v)| *a += v);
            }
        }
    }

    pub(crate) fn n_leaves(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    /// The largest feature index the tree tests, for consistency checks.
    pub(crate) fn max_feature(&self) -> Option<usize> {
        self.nodes.iter().filter(|n| n.feature != LEAF).map(|n| n.feature as usize).max()
    }

    /// Checks that every child index and leaf index points inside the tree,
    /// so a tree read from disk cannot index out of bounds.
    pub(crate) fn is_well_formed(&self, width: usize) -> bool {
        let leaves = self.n_leaves();
        !self.nodes.is_empty()
            && self.width == width
            && self.values.len() == leaves * width
            && self.nodes.iter().enumerate().all(|(i, n)| {
                if n.feature == LEAF {
                    (n.left as usize) < leaves
                } else {
                    // Children come after their parent, so traversal terminates.
                    (n.left as usize) > i && (n.left as usize + 1) < self.nodes.len()
                }
            })
    }
}

/// Builds a [`FlatTree`] node by node; children are allocated in pairs.
pub(crate) struct TreeBuilder {
    nodes: Vec<Node>,
    values: Vec<f64>,
    width: usize,
}

impl TreeBuilder {
    pub(crate) fn new(width: usize) -> Self {
        TreeBuilder {
            nodes: vec![Node { threshold: 0.0, feature: LEAF, left: 0 }],
            values: Vec::new(),
            width,
        }
    }

    /// Turns `node` into a split and returns the index of its left child.
    pub(crate) fn split(&mut self, node: usize, feature: usize, threshold: f64) -> usize {
        let left = self.nodes.len();
        let leaf = Node { threshold: 0.0, feature: LEAF, left: 0 };
        self.nodes.push(leaf);
        self.nodes.push(leaf);
        self.nodes[node] = Node { threshold, feature: feature as u32, left: left as u32 };
        left
    }

    /// Makes `node` a leaf holding `values`; returns the leaf's index.
    pub(crate) fn leaf(&mut self, node: usize, values: &[f64]) -> usize {
        debug_assert_eq!(values.len(), self.width);
        let index = self.values.len() / self.width;
        self.values.extend_from_slice(values);
        self.nodes[node] = Node { threshold: 0.0, feature: LEAF, left: index as u32 };
        index
    }

    pub(crate) fn finish(self) -> FlatTree {
        FlatTree { nodes: self.nodes, values: self.values, width: self.width }
    }
}

/// Stopping rules and feature sampling of the CART learner.
#[derive(Debug, Clone)]
pub(crate) struct CartRules {
    pub(crate) max_depth: Option<usize>,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    /// Features examined per split (all of them for a plain tree).
    pub(crate) max_features: usize,
}

/// Inputs of one tree fit: binned features, class indices and per-row
/// weights (bootstrap counts; rows not in `rows` are ignored).
pub(crate) struct CartData<'a> {
    pub(crate) binned: &'a Binned,
    pub(crate) y: &'a [u32],
    pub(crate) weights: Option<&'a [u32]>,
    pub(crate) n_classes: usize,
}

struct Candidate {
    score: f64,
    feature: usize,
    bin: u8,
}

/// Grows a classification tree on `rows`; leaves hold class probabilities.
pub(crate) fn grow_classifier(
    data: &CartData<'_>,
    rows: &mut [u32],
    rules: &CartRules,
    rng: &mut Xoshiro256PlusPlus,
) -> FlatTree {
    let k = data.n_classes;
    let n_features = data.binned.features();
    let mut builder = TreeBuilder::new(k);
    let mut scratch = Scratch {
        hist: vec![0; 256 * k],
        count: [0; 256],
        present: [0; 4],
        left: vec![0.0; k],
        totals: vec![0.0; k],
        features: (0..n_features).collect(),
    };
    let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let node_rows = &mut rows[start..end];
        scratch.totals.iter_mut().for_each(|t| *t = 0.0);
        for &r in node_rows.iter() {
            scratch.totals[data.y[r as usize] as usize] += weight(data, r) as f64;
        }
        let n = node_rows.len();
        let pure = scratch.totals.iter().filter(|&&c| c > 0.0).count() <= 1;
        let too_deep = rules.max_depth.is_some_and(|d| depth >= d);
        let best = if pure || too_deep || n < rules.min_samples_split || n < 2 * rules.min_samples_leaf {
            None
        } else {
            best_split(data, node_rows, rules, rng, &mut scratch)
        };
        match best {
            None => {
                let total: f64 = scratch.totals.iter().sum();
                let proba: Vec<f64> = scratch.totals.iter().map(|c| c / total).collect();
                builder.leaf(node, &proba);
            }
            Some(split) => {
                let column = data.binned.column(split.feature);
                let mid = partition(node_rows, |r| column[r as usize] <= split.bin);
                let threshold = data.binned.threshold(split.feature, split.bin);
                let left = builder.split(node, split.feature, threshold);
                stack.push((left + 1, start + mid, end, depth + 1));
                stack.push((left, start, start + mid, depth + 1));
            }
        }
    }
    builder.finish()
}

fn weight(data: &CartData<'_>, r: u32) -> u32 {
    data.weights.map_or(1, |w| w[r as usize])
}

struct Scratch {
    hist: Vec<u32>,
    count: [u32; 256],
    present: [u64; 4],
    left: Vec<f64>,
    totals: Vec<f64>,
    features: Vec<usize>,
}

fn best_split(
    data: &CartData<'_>,
    rows: &[u32],
    rules: &CartRules,
    rng: &mut Xoshiro256PlusPlus,
    s: &mut Scratch,
) -> Option<Candidate> {
    let k = data.n_classes;
    let n = rows.len() as u32;
    let total_w: f64 = s.totals.iter().sum();
    let mut best: Option<Candidate> = None;
    let mut examined = 0;
    let n_features = s.features.len();
    for drawn in 0..n_features {
        if examined >= rules.max_features {
            break;
        }
        // Draw the next feature without replacement (partial Fisher-Yates).
        let pick = rng.random_range(drawn..n_features);
        s.features.swap(drawn, pick);
        let feature = s.features[drawn];
        let column = data.binned.column(feature);
        for &r in rows {
            let b = column[r as usize] as usize;
            s.present[b >> 6] |= 1 << (b & 63);
            s.count[b] += 1;
            s.hist[b * k + data.y[r as usize] as usize] += weight(data, r);
        }
        let distinct: u32 = s.present.iter().map(|w| w.count_ones()).sum();
        if distinct > 1 {
            examined += 1;
            s.left.iter_mut().for_each(|v| *v = 0.0);
            let mut n_left = 0u32;
            let mut w_left = 0.0;
            let mut previous = 0usize;
            for b in present_bins(&s.present) {
                if n_left > 0 {
                    // Candidate split: everything before bin b goes left.
                    let n_right = n - n_left;
                    if n_left >= rules.min_samples_leaf as u32 && n_right >= rules.min_samples_leaf as u32 {
                        let w_right = total_w - w_left;
                        let mut sq_left = 0.0;
                        let mut sq_right = 0.0;
                        for c in 0..k {
                            let l = s.left[c];
                            let r = s.totals[c] - l;
                            sq_left += l * l;
                            sq_right += r * r;
                        }
                        let score = sq_left / w_left + sq_right / w_right;
                        if best.as_ref().is_none_or(|b| score > b.score) {
                            best = Some(Candidate { score, feature, bin: previous as u8 });
                        }
                    }
                }
                n_left += s.count[b];
                for c in 0..k {
                    let h = s.hist[b * k + c] as f64;
                    s.left[c] += h;
                    w_left += h;
                }
                previous = b;
            }
        }
        for b in present_bins(&s.present) {
            s.count[b] = 0;
            s.hist[b * k..(b + 1) * k].iter_mut().for_each(|h| *h = 0);
        }
        s.present = [0; 4];
    }
    best
}

/// Set bits of a 256-bit set, in increasing order.
fn present_bins(set: &[u64; 4]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(word, &bits)| {
        let mut bits = bits;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(word * 64 + b)
        })
    })
}

/// Moves rows satisfying `goes_left` to the front; returns how many did.
pub(crate) fn partition(rows: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let mut i = 0;
    let mut j = rows.len();
    while i < j {
        if goes_left(rows[i]) {
            i += 1;
        } else {
            j -= 1;
            rows.swap(i, j);
        }
    }
    i
}
