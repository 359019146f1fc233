//! Templates in task arguments (`data/raw/{{ ds }}/data.csv`), rendered
//! with minijinja when a task instance runs. Undefined variables are
//! errors, never empty strings: a typo must not write to `data/raw//`.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

/// The names a template may use, as Airflow users know them (`ds` is the
/// data interval's start, Airflow 2's meaning).
pub const CONTEXT_NAMES: [&str; 12] = [
    "ds",
    "ds_nodash",
    "ts",
    "data_interval_start",
    "data_interval_end",
    "logical_date",
    "run_id",
    "pipeline",
    "params",
    "conf",
    "var",
    "outputs",
];

/// What a task instance's templates see.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The data interval's start date, `YYYY-MM-DD`.
    pub ds: String,
    /// `ds` without dashes, `YYYYMMDD`.
    pub ds_nodash: String,
    /// The data interval's start, RFC 3339 in UTC (`2026-11-01T00:00:00Z`).
    pub ts: String,
    /// The data interval's start, RFC 3339 in UTC.
    pub data_interval_start: String,
    /// The data interval's end, RFC 3339 in UTC.
    pub data_interval_end: String,
    /// The data interval's start, RFC 3339 in UTC, as Airflow 2 names it.
    pub logical_date: String,
    /// The run's id.
    pub run_id: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline's params with the run's conf laid over them.
    pub params: Map<String, Value>,
    /// The run's conf (with what the command line added).
    pub conf: Map<String, Value>,
    /// Variables (`retrain variables set`).
    pub var: Map<String, Value>,
    /// What upstream tasks returned, by task name.
    pub outputs: Map<String, Value>,
}

impl Context {
    pub(crate) fn new(pipeline: &str, run_id: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Context {
        let ds = start.format("%Y-%m-%d").to_string();
        Context {
            ds_nodash: ds.replace('-', ""),
            ds,
            ts: start.to_rfc3339_opts(SecondsFormat::Secs, true),
            data_interval_start: start.to_rfc3339_opts(SecondsFormat::Secs, true),
            data_interval_end: end.to_rfc3339_opts(SecondsFormat::Secs, true),
            logical_date: start.to_rfc3339_opts(SecondsFormat::Secs, true),
            run_id: run_id.to_owned(),
            pipeline: pipeline.to_owned(),
            params: Map::new(),
            conf: Map::new(),
            var: Map::new(),
            outputs: Map::new(),
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// A template or condition that cannot be compiled or rendered.
#[derive(Debug, thiserror::Error)]
#[error("template error: {} in '{text}'", describe(source))]
pub struct TemplateError {
    text: String,
    source: minijinja::Error,
}

fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{detail} ({})", error.kind()),
        None => error.kind().to_string(),
    }
}

fn in_text(text: &str) -> impl FnOnce(minijinja::Error) -> TemplateError + '_ {
    move |source| TemplateError { text: text.to_owned(), source }
}

/// Renders one string.
pub fn render(text: &str, context: &Context) -> Result<String, TemplateError> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(text.to_owned());
    }
    environment().render_str(text, minijinja::value::Serde(context)).map_err(in_text(text))
}

/// Renders every string inside a JSON value.
pub fn render_value(value: &Value, context: &Context) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => Value::String(render(s, context)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_value(v, context)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, context)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// Evaluates a condition such as `outputs.evaluate.accuracy >= var.min_accuracy | float`.
pub fn evaluate(expression: &str, context: &Context) -> Result<bool, TemplateError> {
    let env = environment();
    let compiled = env.compile_expression(expression).map_err(in_text(expression))?;
    let value = compiled.eval(minijinja::value::Serde(context)).map_err(in_text(expression))?;
    Ok(value.is_true())
}

/// The variables a template reads, dotted (`params.rows`, `ds`).
pub fn template_variables(text: &str) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let template = env.template_from_str(text).map_err(in_text(text))?;
    Ok(template.undeclared_variables(true).into_iter().collect())
}

/// The variables an expression reads.
pub fn expression_variables(expression: &str) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let compiled = env.compile_expression(expression).map_err(in_text(expression))?;
    Ok(compiled.undeclared_variables(true).into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn context() -> Context {
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut c = Context::new("train", "scheduled__2026-11-01", start, start + chrono::Duration::days(7));
        c.var.insert("min_accuracy".into(), Value::String("0.9".into()));
        c.outputs.insert("evaluate".into(), serde_json::json!({"accuracy": 0.95}));
        c
    }

    #[test]
    fn airflow_names_render() {
        let c = context();
        assert_eq!(render("data/raw/{{ ds }}/{{ ds_nodash }}", &c).unwrap(), "data/raw/2026-11-01/20261101");
        assert_eq!(render("{{ data_interval_end }}", &c).unwrap(), "2026-11-08T00:00:00Z");
        assert_eq!(render("{{ var.missing | default('x') }}", &c).unwrap(), "x");
    }

    #[test]
    fn undefined_names_are_errors_not_blanks() {
        let err = render("data/{{ dss }}/x", &context()).unwrap_err().to_string();
        assert!(err.contains("undefined"), "{err}");
        assert!(render("{{ var.missing }}", &context()).is_err());
    }

    #[test]
    fn conditions_compare_outputs_and_variables() {
        let c = context();
        assert!(evaluate("outputs.evaluate.accuracy >= var.min_accuracy | float", &c).unwrap());
        assert!(!evaluate("outputs.evaluate.accuracy >= 0.99", &c).unwrap());
        assert!(evaluate("outputs.evaluate.nope >= 1", &c).is_err());
    }

    #[test]
    fn variables_are_listed_dotted() {
        let names =
            template_variables("{{ params.rows }} {{ ds }} {% for x in [1] %}{{ x }}{% endfor %}").unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["ds", "params.rows"]);
        assert!(template_variables("{{ ds ").is_err());
    }
}
