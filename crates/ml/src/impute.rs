//! Missing-value imputation fitted on training data and stored with the
//! model, so prediction fills gaps with the same values training used.

use serde::{Deserialize, Serialize};

use crate::config::Impute;
use crate::data::Matrix;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Imputer {
    /// How the values were learnt (never [`Impute::Error`]).
    pub(crate) strategy: Impute,
    /// The fill value of each column.
    pub(crate) values: Vec<f64>,
}

impl Imputer {
    /// Learns fill values per column; `None` for the `error` strategy.
    pub(crate) fn fit(x: &Matrix, strategy: Impute, features: &[String]) -> Result<Option<Imputer>> {
        if strategy == Impute::Error {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(x.cols());
        for (j, name) in features.iter().enumerate() {
            let mut column: Vec<f64> = (0..x.rows()).map(|i| x.get(i, j)).filter(|v| !v.is_nan()).collect();
            if column.is_empty() {
                return Err(Error::Invalid(format!(
                    "column '{name}' has no values at all, so there is nothing to impute it from"
                )));
            }
            let value = match strategy {
                Impute::Mean => column.iter().sum::<f64>() / column.len() as f64,
                _ => median(&mut column),
            };
            values.push(value);
        }
        Ok(Some(Imputer { strategy, values }))
    }

    /// Replaces every NaN in `x` with its column's fill value.
    pub(crate) fn apply(&self, x: &mut Matrix) {
        let cols = x.cols();
        for (j, v) in x.as_mut_slice().iter_mut().enumerate() {
            if v.is_nan() {
                *v = self.values[j % cols];
            }
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_with_mean_or_median_of_observed_values() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let x = Matrix::new(3, 2, vec![1.0, f64::NAN, 2.0, 10.0, 9.0, 20.0]);
        let mean = Imputer::fit(&x, Impute::Mean, &names).unwrap().unwrap();
        assert_eq!(mean.values, [4.0, 15.0]);
        let median = Imputer::fit(&x, Impute::Median, &names).unwrap().unwrap();
        assert_eq!(median.values, [2.0, 15.0]);
        let mut y = x.clone();
        median.apply(&mut y);
        assert_eq!(y.get(0, 1), 15.0);
        assert!(Imputer::fit(&x, Impute::Error, &names).unwrap().is_none());
        let empty = Matrix::new(1, 1, vec![f64::NAN]);
        assert!(Imputer::fit(&empty, Impute::Mean, &names[..1]).is_err());
    }
}
