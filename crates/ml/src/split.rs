//! Stratified train / validation / test split with a seed.
//!
//! Each class is shuffled and cut in the requested proportions, so every
//! part keeps the class balance of the whole (scikit-learn's
//! `train_test_split(stratify=y)`). The same seed gives the same split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;

use std::path::{Path, PathBuf};

use crate::data::{self, Dataset};
use crate::error::{Error, Result};

/// Row indices of each part, in shuffled order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The rows to fit on: what the other parts leave.
    pub train: Vec<usize>,
    /// About `validation` of each class's rows, for choosing a model.
    pub validation: Vec<usize>,
    /// About `test` of each class's rows; empty when `test` is 0.
    pub test: Vec<usize>,
}

/// Splits a labelled dataset and writes `train.csv`, `val.csv` (and
/// `test.csv` when `test` > 0) into `dir`; returns each part's name, path
/// and row count.
pub fn write_parts(
    dataset: &Dataset,
    dir: &Path,
    validation: f64,
    test: f64,
    seed: u64,
) -> Result<Vec<(&'static str, PathBuf, usize)>> {
    let target = dataset.require_target()?;
    let classes = data::classes_of(&target.labels);
    let y = target.encode(&classes)?;
    let parts = stratified(&y, validation, test, seed)?;
    let mut named = vec![("train", &parts.train), ("val", &parts.validation)];
    if test > 0.0 {
        named.push(("test", &parts.test));
    }
    let mut written = Vec::new();
    for (name, rows) in named {
        let path = dir.join(format!("{name}.csv"));
        crate::atomic::write_file(&path, &data::dataset_to_csv(&dataset.select_rows(rows)))?;
        written.push((name, path, rows.len()));
    }
    Ok(written)
}

/// Splits rows labelled `y` (class indices) into parts holding
/// `validation` and `test` fractions of each class; the rest is training.
pub fn stratified(y: &[u32], validation: f64, test: f64, seed: u64) -> Result<Split> {
    for (name, f) in [("validation", validation), ("test", test)] {
        if !(0.0..1.0).contains(&f) {
            return Err(Error::Invalid(format!("{name} fraction must be within [0, 1), got {f}")));
        }
    }
    if validation + test >= 1.0 {
        return Err(Error::Invalid(format!(
            "validation ({validation}) + test ({test}) fractions must leave rows for training"
        )));
    }
    let n_classes = y.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in y.iter().enumerate() {
        by_class[c as usize].push(i);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut split = Split { train: Vec::new(), validation: Vec::new(), test: Vec::new() };
    for mut rows in by_class {
        rows.shuffle(&mut rng);
        let n = rows.len() as f64;
        let n_val = (n * validation).round() as usize;
        let n_test = ((n * test).round() as usize).min(rows.len() - n_val);
        split.validation.extend_from_slice(&rows[..n_val]);
        split.test.extend_from_slice(&rows[n_val..n_val + n_test]);
        split.train.extend_from_slice(&rows[n_val + n_test..]);
    }
    for (name, part, fraction) in [
        ("training", &split.train, 1.0),
        ("validation", &split.validation, validation),
        ("test", &split.test, test),
    ] {
        if fraction > 0.0 && part.is_empty() {
            return Err(Error::Invalid(format!(
                "the {name} part would be empty with {} rows; use more data or a larger fraction",
                y.len()
            )));
        }
    }
    split.train.shuffle(&mut rng);
    split.validation.shuffle(&mut rng);
    split.test.shuffle(&mut rng);
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_class_proportions_and_is_deterministic() {
        let y: Vec<u32> = (0..1000).map(|i| if i % 10 == 0 { 1 } else { 0 }).collect();
        let s = stratified(&y, 0.2, 0.1, 3).unwrap();
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (700, 200, 100));
        assert_eq!(s.validation.iter().filter(|&&i| y[i] == 1).count(), 20);
        assert_eq!(s.test.iter().filter(|&&i| y[i] == 1).count(), 10);
        assert_eq!(s, stratified(&y, 0.2, 0.1, 3).unwrap());
        assert_ne!(s.train, stratified(&y, 0.2, 0.1, 4).unwrap().train);
        let mut all: Vec<usize> = s.train.iter().chain(&s.validation).chain(&s.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn rejects_impossible_fractions() {
        let y = [0u32, 1, 0, 1];
        assert!(stratified(&y, 0.6, 0.5, 0).is_err());
        assert!(stratified(&y, -0.1, 0.0, 0).is_err());
        assert!(stratified(&[0, 1], 0.1, 0.0, 0).unwrap_err().to_string().contains("empty"));
    }
}
