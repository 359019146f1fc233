//! Classifier config files: which algorithm, its parameters, the seed and
//! the missing-value policy, in JSON or YAML (same schema):
//!
//! ```yaml
//! name: rf-200                # optional; defaults to the file name
//! model: random_forest        # see MODEL_NAMES
//! params: {n_estimators: 200, max_depth: 12}   # scikit-learn's names
//! seed: 42                    # default 0
//! impute: error               # error (default) | mean | median
//! ```
//!
//! Everything is checked before any training starts: unknown keys,
//! unknown models, wrong types and out-of-range values are errors that
//! name the key and say what is allowed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::{MODEL_NAMES, ModelSpec};

/// What to do with missing feature values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// Refuse data with missing values, naming the first one.
    #[default]
    Error,
    /// Fill with the training mean of the column.
    Mean,
    /// Fill with the training median of the column.
    Median,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    model: String,
    #[serde(default)]
    params: serde_json::Value,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    impute: Impute,
}

/// A validated classifier config.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierConfig {
    /// The model's name in messages and tracking; the file name without
    /// its extension unless the file sets `name`.
    pub name: String,
    /// The algorithm and its parameters, every default filled in.
    pub spec: ModelSpec,
    /// Fixes every random choice of the fit; default 0.
    pub seed: u64,
    /// What to do with missing feature values; default [`Impute::Error`].
    pub impute: Impute,
}

impl ClassifierConfig {
    /// Reads and validates a config file (`.json`, else YAML).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` picks the format (`.json`, else YAML)
    /// and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let is_json = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => true,
            Some("yaml" | "yml") => false,
            _ => text.trim_start().starts_with('{'),
        };
        let value: serde_json::Value = if is_json {
            serde_json::from_str(text).map_err(|e| Error::config(path, format!("invalid JSON: {e}")))?
        } else {
            serde_saphyr::from_str(text).map_err(|e| Error::config(path, format!("invalid YAML: {e}")))?
        };
        if !value.is_object() {
            return Err(Error::config(
                path,
                "expected a mapping with the keys name, model, params, seed, impute",
            ));
        }
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            let message = e.into_inner().to_string();
            let message = if at == "." { message } else { format!("{at}: {message}") };
            Error::config(path, format!("{message} (models: {})", MODEL_NAMES.join(", ")))
        })?;
        let params = match raw.params {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            serde_json::Value::Object(map) => serde_json::Value::Object(map),
            other => {
                return Err(Error::config(path, format!("params: expected a mapping, got {other}")));
            }
        };
        let spec = ModelSpec::parse(&raw.model, params).map_err(|e| Error::config(path, e.to_string()))?;
        let name = raw.name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| spec.name().to_owned())
        });
        Ok(ClassifierConfig { name, spec, seed: raw.seed, impute: raw.impute })
    }

    /// The config with every default filled in, as recorded with a model.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "model": self.spec.name(),
            "params": self.spec.params_json(),
            "seed": self.seed,
            "impute": self.impute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, file: &str) -> Result<ClassifierConfig> {
        ClassifierConfig::parse(text, Path::new(file))
    }

    #[test]
    fn json_and_yaml_give_the_same_config() {
        let json = parse(
            r#"{"name": "rf-200", "model": "random_forest", "params": {"n_estimators": 200, "max_depth": 12}, "seed": 42}"#,
            "rf.json",
        )
        .unwrap();
        let yaml = parse(
            "name: rf-200\nmodel: random_forest\nparams:\n  n_estimators: 200\n  max_depth: 12\nseed: 42\n",
            "rf.yaml",
        )
        .unwrap();
        assert_eq!(json, yaml);
        assert_eq!(json.to_json()["params"]["max_features"], "sqrt");
        assert_eq!(parse("model: knn", "configs/my-knn.yml").unwrap().name, "my-knn");
    }

    #[test]
    fn every_model_parses_with_defaults() {
        for model in MODEL_NAMES {
            let config = parse(&format!("model: {model}"), "c.yaml").unwrap();
            assert_eq!(config.spec.name(), model);
        }
    }

    #[test]
    fn errors_name_the_key_and_what_is_allowed() {
        let err = |text: &str| parse(text, "c.yaml").unwrap_err().to_string();
        let e = err("model: random_forrest");
        assert!(e.contains("model: unknown model 'random_forrest'; expected one of random_forest"), "{e}");
        let e = err("model: random_forest\nparams: {max_dept: 3}");
        assert!(e.contains("unknown field `max_dept`") && e.contains("`max_depth`"), "{e}");
        let e = err("model: random_forest\nparams: {max_depth: deep}");
        assert!(e.contains("params.max_depth: invalid type"), "{e}");
        let e = err("model: random_forest\nparams: {n_estimators: 0}");
        assert!(e.contains("params.n_estimators: must be between 1 and 100000, got 0"), "{e}");
        let e = err("model: random_forest\nparams: {max_features: 1.5}");
        assert!(e.contains("params.max_features") && e.contains("\"sqrt\""), "{e}");
        let e = err("model: knn\nparams: {weights: far}");
        assert!(e.contains("params.weights") && e.contains("uniform") && e.contains("distance"), "{e}");
        let e = err("model: logistic_regression\nparams: {C: -1}");
        assert!(e.contains("params.C: must be > 0"), "{e}");
        let e = err("model: gradient_boosting\nparams: {early_stopping: sometimes}");
        assert!(e.contains("params.early_stopping") && e.contains("\"auto\""), "{e}");
        let e = err("model: knn\ncolour: red");
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err("params: {}");
        assert!(e.contains("missing field `model`"), "{e}");
        let e = err("model: knn\nimpute: zero");
        assert!(e.contains("impute") && e.contains("mean"), "{e}");
        let e = parse("{\"model\": ", "c.json").unwrap_err().to_string();
        assert!(e.contains("c.json: invalid JSON") && e.contains("line 1"), "{e}");
        let e = err("- just\n- a list");
        assert!(e.contains("expected a mapping"), "{e}");
    }
}
