//! How a model is named everywhere one is asked for (`retrain predict`,
//! `retrain serve`, a pipeline's `model:` argument, the serving
//! endpoints): a [`ModelRef`], which is a registry URI parsed the MLflow
//! way ([`ModelUri`]: `models:/NAME/VERSION`, `models:/NAME@ALIAS`,
//! `models:/NAME/STAGE`, `runs:/RUN_ID/PATH`) or a model directory.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Result, StoreError};
use crate::states::Stage;

/// A model as a user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// Resolved through a tracking server and downloaded into a cache
    /// ([`MlflowClient::fetch_model`](crate::MlflowClient::fetch_model)).
    Registry(ModelUri),
    /// A model directory written by `retrain train`.
    Dir(PathBuf),
}

impl ModelRef {
    /// `models:/…` and `runs:/…` are registry URIs, and must be valid
    /// ones; anything else is a directory.
    pub fn parse(text: &str) -> Result<ModelRef> {
        if text.starts_with("models:/") || text.starts_with("runs:/") {
            return ModelUri::parse(text).map(ModelRef::Registry);
        }
        Ok(ModelRef::Dir(PathBuf::from(text)))
    }
}

/// A registry model URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/NAME/VERSION`.
    Version {
        /// The registered model's name.
        name: String,
        /// The version number, as written.
        version: String,
    },
    /// `models:/NAME@ALIAS`.
    Alias {
        /// The registered model's name.
        name: String,
        /// The alias.
        alias: String,
    },
    /// `models:/NAME/STAGE`: the newest version in the stage.
    Stage {
        /// The registered model's name.
        name: String,
        /// The stage as MLflow spells it (`Production`), whatever case was
        /// written.
        stage: &'static str,
    },
    /// `runs:/RUN_ID/PATH`: a run's artifacts, not a registered version.
    Run {
        /// The run's id.
        run_id: String,
        /// The path under the run's artifacts, without surrounding slashes;
        /// empty for the artifact root.
        path: String,
    },
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelUri::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelUri::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelUri::Stage { name, stage } => write!(f, "models:/{name}/{stage}"),
            ModelUri::Run { run_id, path } => write!(f, "runs:/{run_id}/{path}"),
        }
    }
}

impl ModelUri {
    /// Parses a URI; an invalid one is an `INVALID_PARAMETER_VALUE` that
    /// lists the forms there are.
    pub fn parse(uri: &str) -> Result<ModelUri> {
        let bad = |why: &str| {
            StoreError::invalid(format!(
                "invalid model URI '{uri}': {why}; expected models:/NAME/VERSION, models:/NAME@ALIAS, \
                 models:/NAME/STAGE or runs:/RUN_ID/PATH"
            ))
        };
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            if run_id.is_empty() {
                return Err(bad("no run id"));
            }
            return Ok(ModelUri::Run { run_id: run_id.to_owned(), path: path.trim_matches('/').to_owned() });
        }
        let Some(rest) = uri.strip_prefix("models:/") else {
            return Err(bad("unknown scheme"));
        };
        let rest = rest.trim_start_matches('/');
        if let Some((name, alias)) = rest.split_once('@') {
            if name.is_empty() || alias.is_empty() || alias.contains('/') {
                return Err(bad("empty name or alias"));
            }
            return Ok(ModelUri::Alias { name: name.to_owned(), alias: alias.to_owned() });
        }
        let Some((name, selector)) = rest.rsplit_once('/') else {
            return Err(bad("no version, stage or alias"));
        };
        if name.is_empty() || selector.is_empty() {
            return Err(bad("empty name or version"));
        }
        if selector.parse::<u64>().is_ok() {
            return Ok(ModelUri::Version { name: name.to_owned(), version: selector.to_owned() });
        }
        match selector.parse::<Stage>() {
            Ok(stage) => Ok(ModelUri::Stage { name: name.to_owned(), stage: stage.into() }),
            Err(_) => Err(bad(&format!("'{selector}' is neither a version number nor a stage"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let v = |n: &str, s: &str| ModelUri::Version { name: n.into(), version: s.into() };
        assert_eq!(ModelUri::parse("models:/iris-rf/3").unwrap(), v("iris-rf", "3"));
        assert_eq!(
            ModelUri::parse("models:/iris-rf@champion").unwrap(),
            ModelUri::Alias { name: "iris-rf".into(), alias: "champion".into() }
        );
        assert_eq!(
            ModelUri::parse("models:/iris-rf/production").unwrap(),
            ModelUri::Stage { name: "iris-rf".into(), stage: "Production" }
        );
        assert_eq!(
            ModelUri::parse("runs:/abc/model").unwrap(),
            ModelUri::Run { run_id: "abc".into(), path: "model".into() }
        );
        for bad in ["models:/iris", "models:/iris/Live", "models:/@x", "s3://x", "runs:/"] {
            assert!(ModelUri::parse(bad).is_err(), "{bad}");
        }
        for uri in
            ["models:/iris-rf/3", "models:/iris-rf@champion", "models:/iris-rf/Production", "runs:/abc/model"]
        {
            assert_eq!(ModelUri::parse(uri).unwrap().to_string(), uri);
        }
    }

    #[test]
    fn a_reference_is_a_registry_uri_or_a_directory() {
        assert_eq!(
            ModelRef::parse("models:/iris@champion").unwrap(),
            ModelRef::Registry(ModelUri::Alias { name: "iris".into(), alias: "champion".into() })
        );
        assert_eq!(
            ModelRef::parse("data/models/2026-11-01").unwrap(),
            ModelRef::Dir("data/models/2026-11-01".into())
        );
        // A registry URI with a mistake is refused, not taken for a directory.
        assert!(ModelRef::parse("models:/iris").is_err());
    }
}
