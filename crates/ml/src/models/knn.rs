//! k-nearest neighbours (scikit-learn's `KNeighborsClassifier`, brute
//! force, Euclidean).
//!
//! Candidates are found in blocks with single-precision matrix products
//! (`|b|^2 - 2 a.b`, on centred data; the query's own norm does not change
//! the ranking), the way scikit-learn's brute-force search leans on BLAS;
//! blocks of queries run in parallel. A few more candidates than needed
//! are kept and re-ranked by exact double-precision distance, so float32
//! rounding never changes the answer.

use std::sync::OnceLock;

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::params::{ParamError, ensure, ensure_n_jobs};
use crate::data::Matrix;

const QUERY_BLOCK: usize = 512;
const TRAIN_BLOCK: usize = 2048;

/// How much each neighbour's vote counts; written `uniform` or `distance`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// Every neighbour counts once.
    Uniform,
    /// A neighbour counts by the inverse of its distance; neighbours at
    /// distance zero, if any, take all the weight.
    Distance,
}

/// Parameters of `knn`, with scikit-learn's names and defaults
/// (`KNeighborsClassifier`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnnParams {
    /// Neighbours that vote, from 1 to the number of training rows; default 5.
    pub n_neighbors: usize,
    /// How votes are weighed; default `uniform`.
    pub weights: Weights,
    /// Threads to search on, >= 1; `None` or -1 for every core.
    pub n_jobs: Option<i64>,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams { n_neighbors: 5, weights: Weights::Uniform, n_jobs: None }
    }
}

impl KnnParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        ensure(self.n_neighbors >= 1, "n_neighbors", || format!("must be >= 1, got {}", self.n_neighbors))?;
        ensure_n_jobs(self.n_jobs)
    }
}

/// The training rows themselves, which is all k-NN keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Knn {
    x: Matrix,
    y: Vec<u32>,
    n_classes: usize,
    n_neighbors: usize,
    weights: Weights,
    /// The training rows in the form the distance search uses, built on
    /// first use and kept, so each prediction does not redo it.
    #[serde(skip)]
    search: OnceLock<SearchData>,
}

/// Training rows centred and in single precision, with their squared norms.
#[derive(Debug, Clone)]
struct SearchData {
    means: Vec<f64>,
    train: Array2<f32>,
    norms: Vec<f32>,
}

pub(crate) fn fit_knn(
    x: &Matrix,
    y: &[u32],
    n_classes: usize,
    params: &KnnParams,
) -> Result<Knn, ParamError> {
    ensure(params.n_neighbors <= x.rows(), "n_neighbors", || {
        format!("must be at most the number of training rows ({}), got {}", x.rows(), params.n_neighbors)
    })?;
    Ok(Knn {
        x: x.clone(),
        y: y.to_vec(),
        n_classes,
        n_neighbors: params.n_neighbors,
        weights: params.weights,
        search: OnceLock::new(),
    })
}

impl Knn {
    pub(crate) fn predict_proba(&self, queries: &Matrix) -> Matrix {
        let search = self.search.get_or_init(|| {
            let means = column_means(&self.x);
            let train = centered_f32(&self.x, &means);
            let norms = train.rows().into_iter().map(|r| r.dot(&r)).collect();
            SearchData { means, train, norms }
        });
        let (train, train_norms) = (&search.train, &search.norms);
        let query = centered_f32(queries, &search.means);
        let k = self.n_classes;
        let mut out = Matrix::zeros(queries.rows(), k);
        out.as_mut_slice().par_chunks_mut(QUERY_BLOCK * k).enumerate().for_each(|(block, proba)| {
            let first = block * QUERY_BLOCK;
            let rows = proba.len() / k;
            let q = query.slice(s![first..first + rows, ..]);
            let candidates = self.candidates(q, train.view(), train_norms);
            for (i, mut candidates) in candidates.into_iter().enumerate() {
                let neighbours = self.exact_nearest(queries.row(first + i), &mut candidates);
                self.vote(&neighbours, &mut proba[i * k..(i + 1) * k]);
            }
        });
        out
    }

    /// Candidate neighbours of each query by single-precision distance:
    /// a few more than needed, so that rounding cannot push a true
    /// neighbour out before the exact re-ranking.
    fn candidates(
        &self,
        queries: ArrayView2<'_, f32>,
        train: ArrayView2<'_, f32>,
        norms: &[f32],
    ) -> Vec<Vec<(f32, u32)>> {
        let m = (2 * self.n_neighbors + 8).min(train.nrows());
        let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::with_capacity(m + 1); queries.nrows()];
        let mut products = Array2::<f32>::zeros((queries.nrows(), TRAIN_BLOCK));
        for start in (0..train.nrows()).step_by(TRAIN_BLOCK) {
            let end = (start + TRAIN_BLOCK).min(train.nrows());
            let block = train.slice(s![start..end, ..]);
            let mut c = products.slice_mut(s![.., ..end - start]);
            ndarray::linalg::general_mat_mul(-2.0, &queries, &block.t(), 0.0, &mut c);
            let norms = &norms[start..end];
            for (heap, mut row) in best.iter_mut().zip(c.rows_mut()) {
                let Some(row) = row.as_slice_mut() else { continue };
                row.iter_mut().zip(norms).for_each(|(d, n)| *d += n);
                for (chunk_index, chunk) in row.chunks(16).enumerate() {
                    let worst = if heap.len() < m { f32::INFINITY } else { heap[m - 1].0 };
                    // Most chunks hold nothing closer than the current worst.
                    if chunk.iter().fold(f32::INFINITY, |a, &b| a.min(b)) >= worst {
                        continue;
                    }
                    for (offset, &dist) in chunk.iter().enumerate() {
                        if heap.len() < m || dist < heap[m - 1].0 {
                            let at = heap.partition_point(|e| e.0 <= dist);
                            heap.insert(at, (dist, (start + chunk_index * 16 + offset) as u32));
                            heap.truncate(m);
                        }
                    }
                }
            }
        }
        best
    }

    /// The `n_neighbors` closest candidates by exact distance; ties go to
    /// the earlier training row.
    fn exact_nearest(&self, query: &[f64], candidates: &mut [(f32, u32)]) -> Vec<(f64, u32)> {
        let mut exact: Vec<(f64, u32)> = candidates
            .iter()
            .map(|&(_, j)| {
                let row = self.x.row(j as usize);
                let d2: f64 = row.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
                (d2.sqrt(), j)
            })
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        exact.truncate(self.n_neighbors);
        exact
    }

    fn vote(&self, neighbours: &[(f64, u32)], proba: &mut [f64]) {
        let exact_match = neighbours.iter().any(|&(d, _)| d == 0.0);
        for &(d, j) in neighbours {
            let w = match self.weights {
                Weights::Uniform => 1.0,
                // scikit-learn: rows at distance zero take all the weight.
                Weights::Distance if exact_match => f64::from(d == 0.0),
                Weights::Distance => 1.0 / d,
            };
            proba[self.y[j as usize] as usize] += w;
        }
        let total: f64 = proba.iter().sum();
        proba.iter_mut().for_each(|p| *p /= total);
    }

    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        self.x.cols() == n_features
            && self.n_classes == n_classes
            && self.y.len() == self.x.rows()
            && self.n_neighbors >= 1
            && self.n_neighbors <= self.x.rows()
            && self.y.iter().all(|&c| (c as usize) < n_classes)
    }
}

fn column_means(m: &Matrix) -> Vec<f64> {
    let mut means = vec![0.0; m.cols()];
    for i in 0..m.rows() {
        means.iter_mut().zip(m.row(i)).for_each(|(a, v)| *a += v);
    }
    means.iter_mut().for_each(|a| *a /= m.rows().max(1) as f64);
    means
}

/// Single-precision copy of `m` with `means` subtracted, which keeps the
/// squared norms small and the float32 distances accurate.
fn centered_f32(m: &Matrix, means: &[f64]) -> Array2<f32> {
    Array2::from_shape_fn((m.rows(), m.cols()), |(i, j)| (m.get(i, j) - means[j]) as f32)
}
