//! Model URIs, parsed the MLflow way: `models:/NAME/VERSION`,
//! `models:/NAME@ALIAS`, `models:/NAME/STAGE` and `runs:/RUN_ID/PATH`.

use crate::error::{Result, StoreError};
use crate::states::Stage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    Version { name: String, version: String },
    Alias { name: String, alias: String },
    Stage { name: String, stage: &'static str },
    Run { run_id: String, path: String },
}

impl ModelUri {
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
    }
}
