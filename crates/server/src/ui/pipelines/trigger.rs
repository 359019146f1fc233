//! The pipeline's actions: trigger a run from the form built from its
//! `params` (each field typed like its default, or the whole conf as
//! JSON), and pause or unpause it. A form that does not check comes back
//! with what was wrong, and what was typed, with 422.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use retrain_flow::pipeline::{self, Pipeline};
use retrain_flow::state::PipelineRun;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::error_page;
use super::super::overview::store_failure;
use super::super::{Ui, Viewer};
use super::grid::{GridQuery, ParamField, TriggerForm, grid_page, param_kind};
use super::{back_to, bad_request, pipeline, pipelines, run_href};

/// The form field that carries param `NAME` is `param.NAME`.
const PARAM_PREFIX: &str = "param.";

/// `POST /pipelines/{name}/trigger`: queues a run for the scheduler and
/// shows it.
pub(super) async fn trigger(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(name): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let page = async {
        let Form(fields) =
            form.map_err(|e| bad_request("The trigger form is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        let (form, checked) = check(&pipeline, &fields);
        let (logical_date, conf) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                let form = TriggerForm { error: Some(error), ..form };
                let query = GridQuery::default();
                return Err(grid_page(
                    api,
                    &viewer,
                    &pipeline,
                    &query,
                    form,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
                .into());
            }
        };
        let run = PipelineRun::manual(&pipeline, logical_date, conf, api.owner(), Utc::now());
        if !api.state().insert_run(&run).await.map_err(|e| store_failure(&e))? {
            return Err(error_page(
                StatusCode::CONFLICT,
                &format!("Pipeline '{}' already has a run '{}'; trigger it again.", run.pipeline, run.run_id),
            )
            .into());
        }
        api.wake_scheduler();
        Ok(back_to(&run_href(&run.pipeline, &run.run_id)))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}

/// The form as it was filled in, and the run's interval start and conf
/// it asks for, or what is wrong with it.
fn check(
    pipeline: &Pipeline,
    fields: &[(String, String)],
) -> (TriggerForm, Result<(Option<chrono::DateTime<Utc>>, Map<String, Value>), String>) {
    let field = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned());
    let conf_text = field("conf").unwrap_or_default();
    let date_text = field("logical_date").unwrap_or_default();
    let params: Vec<ParamField> = pipeline
        .params
        .iter()
        .map(|(name, default)| ParamField {
            value: field(&format!("{PARAM_PREFIX}{name}"))
                .unwrap_or_else(|| super::grid::param_text(default)),
            kind: param_kind(default),
            name: name.clone(),
        })
        .collect();
    let checked = (|| {
        let logical_date = if date_text.is_empty() {
            None
        } else {
            Some(pipeline::parse_date(&date_text).map_err(|e| format!("The data interval's start: {e}"))?)
        };
        let conf = if conf_text.is_empty() {
            params.iter().map(|p| Ok((p.name.clone(), typed(p)?))).collect::<Result<Map<_, _>, String>>()?
        } else {
            match serde_json::from_str::<Value>(&conf_text) {
                Ok(Value::Object(conf)) => conf,
                Ok(other) => {
                    return Err(format!("The conf must be a JSON object, not {}.", json_kind(&other)));
                }
                Err(e) => return Err(format!("The conf is not valid JSON: {e}.")),
            }
        };
        Ok((logical_date, conf))
    })();
    let form = TriggerForm { params, conf: conf_text, logical_date: date_text, error: None };
    (form, checked)
}

/// A param's field read as the type of its default.
fn typed(param: &ParamField) -> Result<Value, String> {
    let text = param.value.as_str();
    let wrong = |expected: &str| format!("params.{} must be {expected}, not '{text}'.", param.name);
    match param.kind {
        "text" => Ok(Value::String(text.to_owned())),
        "number" => {
            serde_json::from_str::<serde_json::Number>(text).map(Value::Number).map_err(|_| wrong("a number"))
        }
        "boolean" => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong("true or false")),
        },
        _ => serde_json::from_str(text).map_err(|e| format!("params.{} is not valid JSON: {e}.", param.name)),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
pub(super) struct PauseForm {
    paused: bool,
    /// The page to go back to, one of this section's.
    back: Option<String>,
}

/// `POST /pipelines/{name}/pause`: pauses or unpauses, then back.
pub(super) async fn pause(
    State(ui): State<Arc<Ui>>,
    Path(name): Path<String>,
    form: Result<Form<PauseForm>, FormRejection>,
) -> Response {
    let page = async {
        let Form(form) = form.map_err(|e| bad_request("The pause form is not understood", e.body_text()))?;
        let api = pipelines(&ui)?;
        let pipeline = pipeline(api, &name)?;
        api.state().set_paused(&pipeline.name, form.paused).await.map_err(|e| store_failure(&e))?;
        api.wake_scheduler();
        let back = form
            .back
            .filter(|b| b.starts_with("/pipelines") && !b.starts_with("//"))
            .unwrap_or_else(|| super::pipeline_href(&pipeline.name));
        Ok(back_to(&back))
    };
    page.await.unwrap_or_else(|page: Box<Response>| *page)
}
