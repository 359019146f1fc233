//! Built-in datasets and the drifting synthetic generator.
//!
//! Iris, wine and breast cancer are the public UCI data sets (as
//! distributed with scikit-learn), compiled into the binary so a first run
//! needs no download. The generator follows scikit-learn's
//! `make_classification` (Gaussian clusters on the vertices of a hypercube
//! in the informative subspace, redundant linear combinations, noise
//! features, label noise) and adds a `drift` knob: with the date, every
//! cluster centre moves along one shared direction (the feature means
//! drift steadily) and each class sways along its own direction with a
//! yearly period (the decision boundary moves back and forth without the
//! classes drifting ever further apart), so one day's data differs a little
//! from the day before's.

use std::path::Path;

use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::{self, Dataset, Matrix, Target};
use crate::error::{Error, Result};

/// Names accepted by [`builtin`].
pub const BUILTIN: [&str; 3] = ["iris", "wine", "breast_cancer"];

/// Loads labelled data named by the user: a path (a directory with
/// data.csv + target.csv, or a CSV whose label column is `target`, the
/// last column by default) or the name of a built-in dataset.
pub fn load_named(spec: &str, target: Option<&str>) -> Result<Dataset> {
    let path = Path::new(spec);
    if path.exists() {
        return data::load_labelled(path, target);
    }
    builtin(spec).ok_or_else(|| {
        Error::Invalid(format!(
            "'{spec}' is neither a file, a directory nor a built-in dataset ({})",
            BUILTIN.join(", ")
        ))
    })
}

/// Writes labels to `dir/target.csv` and features to `dir/data.csv`, each
/// atomically and in that order: whoever waits for data.csv finds its
/// labels already there.
pub fn write_dir(dataset: &Dataset, dir: &Path) -> Result<()> {
    if let Some(target) = &dataset.target {
        let labels =
            data::to_csv(std::slice::from_ref(&target.name), target.labels.iter().map(|l| vec![l.clone()]));
        crate::atomic::write_file(&dir.join(data::LABELS_FILE), &labels)?;
    }
    let features = data::to_csv(
        &dataset.features,
        (0..dataset.rows()).map(|i| dataset.x.row(i).iter().map(data::format_value).collect()),
    );
    crate::atomic::write_file(&dir.join(data::FEATURES_FILE), &features)
}

/// A built-in dataset by name (one of [`BUILTIN`]), or `None` for an
/// unknown name.
pub fn builtin(name: &str) -> Option<Dataset> {
    let (text, target) = match name {
        "iris" => (include_str!("../datasets/iris.csv"), "species"),
        "wine" => (include_str!("../datasets/wine.csv"), "cultivar"),
        "breast_cancer" => (include_str!("../datasets/breast_cancer.csv"), "diagnosis"),
        _ => return None,
    };
    let source = Path::new("builtin").join(name);
    // The embedded files are fixed and covered by tests, so parsing cannot fail.
    data::parse_csv_text(&source, text, Some(target)).ok()
}

/// Settings of the synthetic generator; names follow `make_classification`.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    /// Samples to generate, >= 1.
    pub rows: usize,
    /// Columns in all: informative, then redundant, then pure noise.
    pub n_features: usize,
    /// Columns that carry the classes, >= 1.
    pub n_informative: usize,
    /// Columns that are random linear combinations of the informative ones.
    pub n_redundant: usize,
    /// Distinct labels (`0`, `1`, ...), >= 2.
    pub n_classes: usize,
    /// Gaussian clusters per class; `n_classes * n_clusters_per_class` must
    /// be at most `2^n_informative`. 0 counts as 1.
    pub n_clusters_per_class: usize,
    /// Class proportions; `None` for balanced classes.
    pub weights: Option<Vec<f64>>,
    /// Fraction of labels replaced by a random class.
    pub flip_y: f64,
    /// Half the side of the hypercube the cluster centres sit on: larger
    /// separates the classes more.
    pub class_sep: f64,
    /// Fixes the structure (centres, covariances, drift directions) and,
    /// with the date, the rows.
    pub seed: u64,
    /// How far the feature means move per 30 days, and how far each class
    /// sways over the year, in units of `class_sep`.
    pub drift: f64,
    /// The day the data describes; drift is measured from [`DRIFT_ORIGIN`].
    pub date: NaiveDate,
}

/// The date at which drifting data equals the undrifted distribution.
pub const DRIFT_ORIGIN: NaiveDate = match NaiveDate::from_ymd_opt(2026, 1, 1) {
    Some(d) => d,
    None => panic!("valid constant date"),
};

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            rows: 1000,
            n_features: 20,
            n_informative: 5,
            n_redundant: 2,
            n_classes: 3,
            n_clusters_per_class: 2,
            weights: None,
            flip_y: 0.01,
            class_sep: 1.0,
            seed: 0,
            drift: 0.0,
            date: DRIFT_ORIGIN,
        }
    }
}

impl SyntheticSpec {
    fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Invalid(m));
        if self.rows == 0 {
            return fail("rows must be at least 1".into());
        }
        if self.n_classes < 2 {
            return fail(format!("n_classes must be at least 2, got {}", self.n_classes));
        }
        if self.n_informative == 0 {
            return fail("n_informative must be at least 1".into());
        }
        if self.n_informative + self.n_redundant > self.n_features {
            return fail(format!(
                "n_informative ({}) + n_redundant ({}) must not exceed n_features ({})",
                self.n_informative, self.n_redundant, self.n_features
            ));
        }
        let clusters = self.n_classes * self.n_clusters_per_class.max(1);
        if self.n_informative < 63 && (1u64 << self.n_informative) < clusters as u64 {
            return fail(format!(
                "n_classes ({}) * n_clusters_per_class ({}) must be at most 2^n_informative ({})",
                self.n_classes,
                self.n_clusters_per_class,
                1u64 << self.n_informative
            ));
        }
        if !(0.0..=1.0).contains(&self.flip_y) {
            return fail(format!("noise (flip_y) must be within [0, 1], got {}", self.flip_y));
        }
        if !self.drift.is_finite() || !self.class_sep.is_finite() {
            return fail("drift and class_sep must be finite numbers".into());
        }
        if let Some(w) = &self.weights {
            if w.len() != self.n_classes {
                return fail(format!("weights has {} values but n_classes is {}", w.len(), self.n_classes));
            }
            if w.iter().any(|v| !v.is_finite() || *v < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                return fail("weights must be non-negative and sum to more than 0".into());
            }
        }
        Ok(())
    }
}

/// Generates a labelled dataset. The same spec gives the same rows; the
/// structure (centres, covariances, drift directions) depends on the seed
/// only, the sampled rows on the seed and the date.
pub fn synthetic(spec: &SyntheticSpec) -> Result<Dataset> {
    spec.validate()?;
    let n_inf = spec.n_informative;
    let clusters_per_class = spec.n_clusters_per_class.max(1);
    let n_clusters = spec.n_classes * clusters_per_class;
    let mut structure = Xoshiro256PlusPlus::seed_from_u64(spec.seed);

    // Distinct hypercube vertices as cluster centres.
    let mut vertices: Vec<Vec<f64>> = Vec::with_capacity(n_clusters);
    while vertices.len() < n_clusters {
        let v: Vec<f64> = (0..n_inf)
            .map(|_| if structure.random::<bool>() { spec.class_sep } else { -spec.class_sep })
            .collect();
        if !vertices.contains(&v) {
            vertices.push(v);
        }
    }
    let covariances: Vec<Vec<f64>> = (0..n_clusters)
        .map(|_| (0..n_inf * n_inf).map(|_| structure.random_range(-1.0..1.0)).collect())
        .collect();
    let redundant: Vec<f64> =
        (0..n_inf * spec.n_redundant).map(|_| structure.random_range(-1.0..1.0)).collect();
    let shared_direction = unit_vector(&mut structure, n_inf);
    let class_directions: Vec<Vec<f64>> =
        (0..spec.n_classes).map(|_| unit_vector(&mut structure, n_inf)).collect();

    let months = (spec.date - DRIFT_ORIGIN).num_days() as f64 / 30.0;
    let mean_shift = spec.drift * months * spec.class_sep;
    let boundary_sway = spec.drift * spec.class_sep * (std::f64::consts::TAU * months / 12.0).sin();
    let days = (spec.date - DRIFT_ORIGIN).num_days() as u64;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed ^ days.wrapping_mul(0x9E37_79B9_7F4A_7C15));

    let class_counts = class_counts(spec);
    let mut x = Vec::with_capacity(spec.rows * spec.n_features);
    let mut y = Vec::with_capacity(spec.rows);
    let mut informative = vec![0.0; n_inf];
    for (class, &count) in class_counts.iter().enumerate() {
        for i in 0..count {
            let cluster = class * clusters_per_class + i % clusters_per_class;
            let z: Vec<f64> = (0..n_inf).map(|_| rng.sample(StandardNormal)).collect();
            let a = &covariances[cluster];
            for (j, value) in informative.iter_mut().enumerate() {
                let mixed: f64 = (0..n_inf).map(|k| z[k] * a[k * n_inf + j]).sum();
                *value = mixed
                    + vertices[cluster][j]
                    + mean_shift * shared_direction[j]
                    + boundary_sway * class_directions[class][j];
            }
            x.extend_from_slice(&informative);
            for r in 0..spec.n_redundant {
                x.push((0..n_inf).map(|k| informative[k] * redundant[k * spec.n_redundant + r]).sum());
            }
            for _ in n_inf + spec.n_redundant..spec.n_features {
                x.push(rng.sample(StandardNormal));
            }
            let label = if spec.flip_y > 0.0 && rng.random::<f64>() < spec.flip_y {
                rng.random_range(0..spec.n_classes)
            } else {
                class
            };
            y.push(label);
        }
    }
    let mut order: Vec<usize> = (0..spec.rows).collect();
    order.shuffle(&mut rng);
    let x = Matrix::new(spec.rows, spec.n_features, x).select_rows(&order);
    let labels: Vec<String> = order.iter().map(|&i| y[i].to_string()).collect();
    let source = Path::new("synthetic").to_path_buf();
    Ok(Dataset {
        features: (0..spec.n_features).map(|j| format!("f{j}")).collect(),
        x,
        target: Some(Target {
            name: "target".into(),
            lines: (2..labels.len() as u64 + 2).collect(),
            labels,
            source: source.clone(),
        }),
        source,
        first_missing: None,
    })
}

fn unit_vector(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(f64::EPSILON);
    v.into_iter().map(|a| a / norm).collect()
}

/// Rows per class: proportional to the weights, remainder to the first classes.
fn class_counts(spec: &SyntheticSpec) -> Vec<usize> {
    let weights = spec.weights.clone().unwrap_or_else(|| vec![1.0; spec.n_classes]);
    let total: f64 = weights.iter().sum();
    let mut counts: Vec<usize> =
        weights.iter().map(|w| (spec.rows as f64 * w / total).floor() as usize).collect();
    let mut rest = spec.rows - counts.iter().sum::<usize>();
    let mut i = 0;
    while rest > 0 {
        counts[i % spec.n_classes] += 1;
        rest -= 1;
        i += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_documented_shape_and_labels() {
        let iris = builtin("iris").unwrap();
        assert_eq!(iris.features, ["sepal_length", "sepal_width", "petal_length", "petal_width"]);
        assert_eq!(iris.rows(), 150);
        let target = iris.target.unwrap();
        assert_eq!(target.name, "species");
        assert_eq!(data::classes_of(&target.labels), ["setosa", "versicolor", "virginica"]);
        assert_eq!(builtin("wine").unwrap().x.cols(), 13);
        let bc = builtin("breast_cancer").unwrap();
        assert_eq!((bc.rows(), bc.x.cols()), (569, 30));
        assert!(builtin("mnist").is_none());
    }

    #[test]
    fn generator_is_deterministic_and_drifts_with_the_date() {
        let spec = SyntheticSpec { rows: 2000, seed: 7, drift: 0.5, ..Default::default() };
        let a = synthetic(&spec).unwrap();
        assert_eq!(a.x, synthetic(&spec).unwrap().x);
        let later = SyntheticSpec { date: DRIFT_ORIGIN + chrono::Days::new(180), ..spec.clone() };
        let b = synthetic(&later).unwrap();
        let mean = |d: &Dataset| (0..d.rows()).map(|i| d.x.get(i, 0)).sum::<f64>() / d.rows() as f64;
        let calm = SyntheticSpec { drift: 0.0, ..later.clone() };
        let c = synthetic(&calm).unwrap();
        assert!((mean(&b) - mean(&c)).abs() > 0.3, "drift must move feature means");
        assert!((mean(&a) - mean(&c)).abs() < 0.3);
    }

    #[test]
    fn generator_honours_class_weights_and_rejects_bad_specs() {
        let spec = SyntheticSpec {
            rows: 1000,
            flip_y: 0.0,
            weights: Some(vec![0.8, 0.1, 0.1]),
            ..Default::default()
        };
        let d = synthetic(&spec).unwrap();
        let zeros = d.target.unwrap().labels.iter().filter(|l| *l == "0").count();
        assert_eq!(zeros, 800);
        let bad = SyntheticSpec { n_informative: 1, n_classes: 3, ..Default::default() };
        assert!(synthetic(&bad).unwrap_err().to_string().contains("2^n_informative"));
        let bad = SyntheticSpec { n_features: 3, ..Default::default() };
        assert!(synthetic(&bad).is_err());
    }
}
