//! Shared pieces of hyper-parameter validation.

use serde::{Deserialize, Serialize};

/// A parameter value that is out of range, with the key it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// Where in the config: `model`, `params`, `params.max_depth`.
    pub key: String,
    /// What is wrong and what is allowed, e.g. `must be >= 1, got 0`.
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Fails with `message` for `key` unless `ok`.
pub(crate) fn ensure(
    ok: bool,
    key: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), ParamError> {
    if ok { Ok(()) } else { Err(ParamError { key: format!("params.{key}"), message: message() }) }
}

pub(crate) fn ensure_max_bins(max_bins: usize) -> Result<(), ParamError> {
    ensure((2..=255).contains(&max_bins), "max_bins", || format!("must be between 2 and 255, got {max_bins}"))
}

/// How many features a split examines, as in scikit-learn:
/// `"sqrt"`, `"log2"`, a count (integer), a fraction (float in (0, 1]) or
/// `null` for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub enum MaxFeatures {
    /// Every feature (`null`).
    All,
    /// The square root of the feature count, rounded down.
    Sqrt,
    /// The base-2 logarithm of the feature count, rounded down.
    Log2,
    /// This many features (at most all of them), >= 1.
    Count(usize),
    /// This share of the features, rounded down, in (0, 1].
    Fraction(f64),
}

impl MaxFeatures {
    /// The number of features to examine out of `n`, at least one.
    pub fn resolve(self, n: usize) -> usize {
        let k = match self {
            MaxFeatures::All => n,
            MaxFeatures::Sqrt => (n as f64).sqrt() as usize,
            MaxFeatures::Log2 => (n as f64).log2() as usize,
            MaxFeatures::Count(c) => c,
            MaxFeatures::Fraction(f) => (f * n as f64) as usize,
        };
        k.clamp(1, n.max(1))
    }
}

impl TryFrom<serde_json::Value> for MaxFeatures {
    type Error = String;

    fn try_from(value: serde_json::Value) -> Result<Self, String> {
        use serde_json::Value;
        let allowed = "expected \"sqrt\", \"log2\", an integer >= 1, a fraction in (0, 1] or null";
        match &value {
            Value::Null => Ok(MaxFeatures::All),
            Value::String(s) if s == "sqrt" => Ok(MaxFeatures::Sqrt),
            Value::String(s) if s == "log2" => Ok(MaxFeatures::Log2),
            Value::Number(n) => {
                if let Some(c) = n.as_u64() {
                    if c >= 1 {
                        return Ok(MaxFeatures::Count(c as usize));
                    }
                } else if let Some(f) = n.as_f64()
                    && f > 0.0
                    && f <= 1.0
                {
                    return Ok(MaxFeatures::Fraction(f));
                }
                Err(format!("{allowed}, got {value}"))
            }
            _ => Err(format!("{allowed}, got {value}")),
        }
    }
}

impl From<MaxFeatures> for serde_json::Value {
    fn from(m: MaxFeatures) -> Self {
        match m {
            MaxFeatures::All => serde_json::Value::Null,
            MaxFeatures::Sqrt => "sqrt".into(),
            MaxFeatures::Log2 => "log2".into(),
            MaxFeatures::Count(c) => c.into(),
            MaxFeatures::Fraction(f) => f.into(),
        }
    }
}

/// A rayon pool of `n_jobs` threads (scikit-learn's meaning: `null` or -1
/// for every core), or `None` to use the global pool.
pub(crate) fn thread_pool(n_jobs: Option<i64>) -> Option<rayon::ThreadPool> {
    match n_jobs {
        Some(n) if n >= 1 => rayon::ThreadPoolBuilder::new().num_threads(n as usize).build().ok(),
        _ => None,
    }
}

pub(crate) fn ensure_n_jobs(n_jobs: Option<i64>) -> Result<(), ParamError> {
    ensure(matches!(n_jobs, None | Some(-1)) || n_jobs.is_some_and(|n| n >= 1), "n_jobs", || {
        format!("must be -1 (all cores), null or >= 1, got {}", n_jobs.unwrap_or_default())
    })
}
