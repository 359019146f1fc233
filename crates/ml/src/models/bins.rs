//! Feature binning for the histogram tree learners.
//!
//! Each feature is cut once into at most 255 bins at quantiles of its
//! values (every distinct value gets its own bin when there are few), as
//! LightGBM and scikit-learn's HistGradientBoosting do. Split search then
//! scans bin histograms instead of sorting rows at every node, and a split
//! "bin <= b" is stored as the raw threshold `edges[b]`, so fitted trees
//! predict on raw values without binning.

use rayon::prelude::*;

use crate::data::Matrix;

/// Rows used to find quantiles; enough for stable edges on any data size.
const QUANTILE_SAMPLE: usize = 200_000;

/// Binned training data, column-major: `bin(f, i)` is row `i` of feature `f`.
pub(crate) struct Binned {
    rows: usize,
    bins: Vec<u8>,
    /// Upper edges: values `<= edges[f][b]` fall in bin `b` or below.
    pub(crate) edges: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins every column of `x` into at most `max_bins` bins (2..=256).
    pub(crate) fn new(x: &Matrix, max_bins: usize) -> Binned {
        let rows = x.rows();
        let columns: Vec<(Vec<f64>, Vec<u8>)> = (0..x.cols())
            .into_par_iter()
            .map(|f| {
                let column: Vec<f64> = (0..rows).map(|i| x.get(i, f)).collect();
                let edges = quantile_edges(&column, max_bins);
                let bins = column.iter().map(|&v| bin_of(&edges, v)).collect();
                (edges, bins)
            })
            .collect();
        let mut edges = Vec::with_capacity(columns.len());
        let mut bins = Vec::with_capacity(rows * columns.len());
        for (e, b) in columns {
            edges.push(e);
            bins.extend_from_slice(&b);
        }
        Binned { rows, bins, edges }
    }

    pub(crate) fn features(&self) -> usize {
        self.edges.len()
    }

    /// The bins of feature `f` for every row.
    pub(crate) fn column(&self, f: usize) -> &[u8] {
        &self.bins[f * self.rows..(f + 1) * self.rows]
    }

    /// Number of bins feature `f` uses.
    pub(crate) fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }

    /// The raw threshold of the split "bin <= b" on feature `f`.
    pub(crate) fn threshold(&self, f: usize, b: u8) -> f64 {
        self.edges[f][b as usize]
    }
}

fn bin_of(edges: &[f64], v: f64) -> u8 {
    edges.partition_point(|&e| e < v) as u8
}

/// Midpoints between distinct values when they fit, else quantile cuts.
fn quantile_edges(column: &[f64], max_bins: usize) -> Vec<f64> {
    let step = column.len().div_ceil(QUANTILE_SAMPLE).max(1);
    let mut values: Vec<f64> = column.iter().step_by(step).copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.len() <= max_bins {
        return values.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect();
    }
    let last = (values.len() - 1) as f64;
    let mut edges: Vec<f64> = (1..max_bins)
        .map(|q| {
            let pos = last * q as f64 / max_bins as f64;
            let lo = values[pos.floor() as usize];
            let hi = values[pos.ceil() as usize];
            lo + (hi - lo) / 2.0
        })
        .collect();
    edges.dedup();
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let x = Matrix::new(5, 1, vec![3.0, 1.0, 2.0, 1.0, 3.0]);
        let b = Binned::new(&x, 255);
        assert_eq!(b.edges[0], [1.5, 2.5]);
        assert_eq!(b.column(0), &[2, 0, 1, 0, 2]);
        assert_eq!(b.n_bins(0), 3);
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let x = Matrix::new(10_000, 1, (0..10_000).map(f64::from).collect());
        let b = Binned::new(&x, 255);
        assert_eq!(b.n_bins(0), 255);
        let counts = b.column(0).iter().fold(vec![0; 256], |mut c, &v| {
            c[v as usize] += 1;
            c
        });
        assert!(counts[..255].iter().all(|&c| (38..=41).contains(&c)), "{counts:?}");
        // Thresholds agree with the bins: value <= threshold(b) iff bin <= b.
        for i in (0..10_000).step_by(37) {
            let v = x.get(i, 0);
            let bin = b.column(0)[i];
            assert!(bin == 0 || v > b.threshold(0, bin - 1));
            assert!(bin as usize == b.n_bins(0) - 1 || v <= b.threshold(0, bin));
        }
    }
}
