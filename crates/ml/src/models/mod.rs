//! The classifiers: their hyper-parameters, fitting, and prediction.
//!
//! [`ModelSpec`] is a validated choice of algorithm and parameters (what a
//! config file asks for); [`Estimator`] is the fitted model it produces.
//! Every estimator returns one score column per class: probabilities where
//! the algorithm has them, decision values otherwise (the linear SVM); the
//! prediction is the column with the highest score.
//!
//! The algorithms live in private modules; what a config can ask for (the
//! parameter types) is re-exported here, and the fitted models stay behind
//! the opaque [`Estimator`].

mod bins;
mod boosting;
mod forest;
mod knn;
mod linear;
mod naive_bayes;
mod params;
mod tree;

use serde::{Deserialize, Serialize};

use crate::data::Matrix;
use crate::progress::{History, Progress};

pub use boosting::{EarlyStopping, GradientBoostingParams};
pub use forest::{DecisionTreeParams, RandomForestParams};
pub use knn::{KnnParams, Weights};
pub use linear::{IterationBudget, LinearParams, LogisticBudget, LogisticParams, SvmBudget, SvmParams};
pub use naive_bayes::GaussianNbParams;
pub use params::{MaxFeatures, ParamError};

/// Algorithm names accepted in a config's `model` field.
pub const MODEL_NAMES: [&str; 7] = [
    "random_forest",
    "decision_tree",
    "gradient_boosting",
    "logistic_regression",
    "knn",
    "gaussian_nb",
    "linear_svm",
];

/// An algorithm with its (validated) parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// `random_forest`: bagged CART trees with per-split feature sampling.
    RandomForest(RandomForestParams),
    /// `decision_tree`: one CART tree grown on every row.
    DecisionTree(DecisionTreeParams),
    /// `gradient_boosting`: histogram gradient boosting on the softmax loss.
    GradientBoosting(GradientBoostingParams),
    /// `logistic_regression`: multinomial L2 logistic regression.
    LogisticRegression(LogisticParams),
    /// `knn`: brute-force Euclidean k-nearest neighbours.
    Knn(KnnParams),
    /// `gaussian_nb`: Gaussian naive Bayes.
    GaussianNb(GaussianNbParams),
    /// `linear_svm`: one-vs-rest linear SVM on the squared hinge; decision
    /// values, no probabilities.
    LinearSvm(SvmParams),
}

fn typed<P: serde::de::DeserializeOwned>(params: serde_json::Value) -> Result<P, ParamError> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        ParamError {
            key: if path == "." { "params".into() } else { format!("params.{path}") },
            message: e.into_inner().to_string(),
        }
    })
}

impl ModelSpec {
    /// Builds and validates a spec from an algorithm name and a JSON object
    /// of parameters. Errors name the offending key.
    pub fn parse(model: &str, params: serde_json::Value) -> Result<ModelSpec, ParamError> {
        let spec = match model {
            "random_forest" => ModelSpec::RandomForest(typed(params)?),
            "decision_tree" => ModelSpec::DecisionTree(typed(params)?),
            "gradient_boosting" => ModelSpec::GradientBoosting(typed(params)?),
            "logistic_regression" => ModelSpec::LogisticRegression(typed(params)?),
            "knn" => ModelSpec::Knn(typed(params)?),
            "gaussian_nb" => ModelSpec::GaussianNb(typed(params)?),
            "linear_svm" => ModelSpec::LinearSvm(typed(params)?),
            other => {
                return Err(ParamError {
                    key: "model".into(),
                    message: format!("unknown model '{other}'; expected one of {}", MODEL_NAMES.join(", ")),
                });
            }
        };
        spec.validate()?;
        Ok(spec)
    }

    fn validate(&self) -> Result<(), ParamError> {
        match self {
            ModelSpec::RandomForest(p) => p.validate(),
            ModelSpec::DecisionTree(p) => p.validate(),
            ModelSpec::GradientBoosting(p) => p.validate(),
            ModelSpec::LogisticRegression(p) => p.validate(),
            ModelSpec::Knn(p) => p.validate(),
            ModelSpec::GaussianNb(p) => p.validate(),
            ModelSpec::LinearSvm(p) => p.validate(),
        }
    }

    /// The algorithm's name as written in a config's `model` field (one of
    /// [`MODEL_NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::RandomForest(_) => "random_forest",
            ModelSpec::DecisionTree(_) => "decision_tree",
            ModelSpec::GradientBoosting(_) => "gradient_boosting",
            ModelSpec::LogisticRegression(_) => "logistic_regression",
            ModelSpec::Knn(_) => "knn",
            ModelSpec::GaussianNb(_) => "gaussian_nb",
            ModelSpec::LinearSvm(_) => "linear_svm",
        }
    }

    /// Every parameter with defaults filled in, as recorded with a model.
    pub fn params_json(&self) -> serde_json::Value {
        let value = match self {
            ModelSpec::RandomForest(p) => serde_json::to_value(p),
            ModelSpec::DecisionTree(p) => serde_json::to_value(p),
            ModelSpec::GradientBoosting(p) => serde_json::to_value(p),
            ModelSpec::LogisticRegression(p) => serde_json::to_value(p),
            ModelSpec::Knn(p) => serde_json::to_value(p),
            ModelSpec::GaussianNb(p) => serde_json::to_value(p),
            ModelSpec::LinearSvm(p) => serde_json::to_value(p),
        };
        value.unwrap_or_default()
    }

    /// Fits the model on `x` with class indices `y` in `0..n_classes`;
    /// `seed` fixes every random choice, `progress` sees each step. The
    /// history is empty for single-step fits.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        seed: u64,
        progress: &dyn Progress,
    ) -> Result<(Estimator, History), ParamError> {
        let n_jobs = match self {
            ModelSpec::RandomForest(p) => p.n_jobs,
            ModelSpec::Knn(p) => p.n_jobs,
            _ => None,
        };
        let run = || self.fit_here(x, y, n_classes, seed, progress);
        match params::thread_pool(n_jobs) {
            Some(pool) => pool.install(run),
            None => run(),
        }
    }

    fn fit_here(
        &self,
        x: &Matrix,
        y: &[u32],
        n_classes: usize,
        seed: u64,
        progress: &dyn Progress,
    ) -> Result<(Estimator, History), ParamError> {
        let single = |estimator: Estimator| {
            progress.start(1, "fits");
            progress.update(1, &[]);
            progress.finish();
            (estimator, History::default())
        };
        Ok(match self {
            ModelSpec::RandomForest(p) => {
                let (m, h) = forest::fit_random_forest(x, y, n_classes, p, seed, progress);
                (Fitted::Forest(m).into(), h)
            }
            ModelSpec::DecisionTree(p) => {
                single(Fitted::Forest(forest::fit_decision_tree(x, y, n_classes, p, seed)).into())
            }
            ModelSpec::GradientBoosting(p) => {
                let (m, h) = boosting::fit_gradient_boosting(x, y, n_classes, p, seed, progress);
                (Fitted::Boosted(m).into(), h)
            }
            ModelSpec::LogisticRegression(p) => {
                let (m, h) = linear::fit_logistic(x, y, n_classes, p, progress);
                (Fitted::Logistic(m).into(), h)
            }
            ModelSpec::Knn(p) => single(Fitted::Knn(knn::fit_knn(x, y, n_classes, p)?).into()),
            ModelSpec::GaussianNb(p) => {
                single(Fitted::GaussianNb(naive_bayes::fit_gaussian_nb(x, y, n_classes, p)?).into())
            }
            ModelSpec::LinearSvm(p) => {
                let (m, h) = linear::fit_linear_svm(x, y, n_classes, p, progress);
                (Fitted::LinearSvm(m).into(), h)
            }
        })
    }
}

/// A fitted model of any algorithm. Opaque: it is made by
/// [`ModelSpec::fit`], scored with [`Estimator::scores`] and stored inside a
/// model file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Estimator(Fitted);

/// The fitted numbers of each algorithm; the variant order is part of the
/// model file format.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Fitted {
    Forest(forest::Forest),
    Boosted(boosting::Boosted),
    Logistic(linear::Linear),
    Knn(knn::Knn),
    GaussianNb(naive_bayes::GaussianNb),
    LinearSvm(linear::Linear),
}

impl From<Fitted> for Estimator {
    fn from(fitted: Fitted) -> Self {
        Estimator(fitted)
    }
}

impl Estimator {
    /// One score column per class, rows in `x`'s order: probabilities if
    /// [`Self::has_proba`], decision values otherwise.
    pub fn scores(&self, x: &Matrix) -> Matrix {
        match &self.0 {
            Fitted::Forest(m) => m.predict_proba(x),
            Fitted::Boosted(m) => m.predict_proba(x),
            Fitted::Logistic(m) => m.predict_proba(x),
            Fitted::Knn(m) => m.predict_proba(x),
            Fitted::GaussianNb(m) => m.predict_proba(x),
            Fitted::LinearSvm(m) => m.decision_function(x),
        }
    }

    /// Whether [`Self::scores`] are class probabilities (every algorithm but
    /// the linear SVM).
    pub fn has_proba(&self) -> bool {
        !matches!(self.0, Fitted::LinearSvm(_))
    }

    /// Whether the model's internal shapes agree with the recorded feature
    /// and class counts; checked when a model is loaded.
    pub(crate) fn is_well_formed(&self, n_features: usize, n_classes: usize) -> bool {
        match &self.0 {
            Fitted::Forest(m) => m.is_well_formed(n_features, n_classes),
            Fitted::Boosted(m) => m.is_well_formed(n_features, n_classes),
            Fitted::Logistic(m) | Fitted::LinearSvm(m) => m.is_well_formed(n_features, n_classes),
            Fitted::Knn(m) => m.is_well_formed(n_features, n_classes),
            Fitted::GaussianNb(m) => m.is_well_formed(n_features, n_classes),
        }
    }
}

/// Index of the largest value; the first on ties.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Turns scores into probabilities in place (numerically stable).
pub(crate) fn softmax_in_place(values: &mut [f64]) {
    let max = values.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    values.iter_mut().for_each(|v| *v /= sum);
}
