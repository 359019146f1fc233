//! The actions that move a model version: promote it (champion alias and
//! Production), point an alias at it, move it to a stage (Archived
//! included), and remove an alias.
//!
//! Each is asked twice: the first post answers a page that says exactly
//! what will change (which version loses the alias, which leave
//! Production) and asks why; only the post from that page, with a
//! reason, changes the registry. The reason and the user go into the
//! audit trail.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use retrain_registry::entities::ModelVersion;
use serde::Deserialize;

use super::{model_href, version_href, versions_of};
use crate::ui::render::{error_page, render_with_status};
use crate::ui::timeline::CHAMPION;
use crate::ui::{Ui, Viewer, page_context, store_refusal};

/// The stage a promotion moves a version to.
const PRODUCTION: &str = "Production";
const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

#[derive(Deserialize)]
pub(super) struct MoveForm {
    /// `promote`, `alias` or `stage`.
    action: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    stage: String,
    /// Archive the other versions in the stage a version enters.
    #[serde(default)]
    archive_existing: Option<String>,
    #[serde(default)]
    reason: String,
    /// Set by the confirmation page's button.
    #[serde(default)]
    confirmed: Option<String>,
}

/// A move of one version, read from the form.
enum Move {
    Promote,
    Alias(String),
    Stage { stage: &'static str, archive_existing: bool },
}

impl Move {
    fn read(form: &MoveForm) -> Result<Move, String> {
        match form.action.as_str() {
            "promote" => Ok(Move::Promote),
            "alias" => {
                let alias = form.alias.trim();
                if alias.is_empty() {
                    return Err("Name the alias to point at this version.".to_owned());
                }
                Ok(Move::Alias(alias.to_owned()))
            }
            "stage" => {
                let stage =
                    STAGES.into_iter().find(|s| s.eq_ignore_ascii_case(form.stage.trim())).ok_or_else(
                        || format!("'{}' is not a stage: one of {}.", form.stage, STAGES.join(", ")),
                    )?;
                Ok(Move::Stage { stage, archive_existing: form.archive_existing.is_some() })
            }
            other => Err(format!("'{other}' is not an action: promote, alias or stage.")),
        }
    }

    /// What the move changes, in sentences, given the model's versions.
    fn changes(&self, version: &ModelVersion, versions: &[ModelVersion]) -> Vec<String> {
        let holder = |alias: &str| versions.iter().find(|v| v.aliases.iter().any(|a| a == alias));
        let alias_change = |alias: &str| match holder(alias) {
            Some(v) if v.version == version.version => {
                format!("@{alias} already points at version {}.", v.version)
            }
            Some(v) => format!("@{alias} moves from version {} to version {}.", v.version, version.version),
            None => format!("@{alias} is set on version {}.", version.version),
        };
        let stage_change = |stage: &str, archive: bool| {
            let mut lines = vec![if version.current_stage == stage {
                format!("Version {} stays in {stage}.", version.version)
            } else {
                format!("Version {} moves from {} to {stage}.", version.version, version.current_stage)
            }];
            if archive && matches!(stage, "Staging" | "Production") {
                for other in
                    versions.iter().filter(|v| v.current_stage == stage && v.version != version.version)
                {
                    lines.push(format!("Version {} leaves {stage} for Archived.", other.version));
                }
            }
            lines
        };
        match self {
            Move::Promote => {
                let mut lines = vec![alias_change(CHAMPION)];
                lines.extend(stage_change(PRODUCTION, true));
                lines
            }
            Move::Alias(alias) => vec![alias_change(alias)],
            Move::Stage { stage, archive_existing } => stage_change(stage, *archive_existing),
        }
    }

    fn title(&self, version: &str) -> String {
        match self {
            Move::Promote => format!("Promote version {version}"),
            Move::Alias(alias) => format!("Point @{alias} at version {version}"),
            Move::Stage { stage: "Archived", .. } => format!("Archive version {version}"),
            Move::Stage { stage, .. } => format!("Move version {version} to {stage}"),
        }
    }
}

/// `POST /models/{name}/versions/{version}/move`.
pub(super) async fn move_version(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, number)): Path<(String, String)>,
    form: Result<Form<MoveForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The form is not understood: post it from a version's page.",
        );
    };
    let version = match ui.store.get_model_version(&name, &number).await {
        Ok(version) => version,
        Err(e) => return store_refusal(&e),
    };
    let planned = match Move::read(&form) {
        Ok(planned) => planned,
        Err(problem) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &problem),
    };
    let reason = form.reason.trim();
    if form.confirmed.is_none() || reason.is_empty() {
        let versions = match versions_of(&ui.store, &name).await {
            Ok(versions) => versions,
            Err(e) => return store_refusal(&e),
        };
        let problem = form.confirmed.is_some().then_some("Say why: the audit trail keeps the reason.");
        let hidden = [
            ("action", form.action.clone()),
            ("alias", form.alias.clone()),
            ("stage", form.stage.clone()),
            ("archive_existing", form.archive_existing.clone().unwrap_or_default()),
        ];
        let hidden: Vec<(&str, String)> = hidden.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        return confirmation(
            &viewer,
            &name,
            &version_href(&name, &number),
            &planned.title(&number),
            planned.changes(&version, &versions),
            &hidden,
            reason,
            problem,
        );
    }
    let actor = &viewer.name;
    let done = match &planned {
        Move::Promote => {
            match ui.store.transition_stage(&name, &number, PRODUCTION, true, actor, reason).await {
                Ok(_) => ui.store.set_alias(&name, CHAMPION, &number, actor, reason).await,
                Err(e) => Err(e),
            }
        }
        Move::Alias(alias) => ui.store.set_alias(&name, alias, &number, actor, reason).await,
        Move::Stage { stage, archive_existing } => ui
            .store
            .transition_stage(&name, &number, stage, *archive_existing, actor, reason)
            .await
            .map(|_| ()),
    };
    match done {
        Ok(()) => Redirect::to(&format!("{}#audit", model_href(&name))).into_response(),
        Err(e) => store_refusal(&e),
    }
}

#[derive(Deserialize)]
pub(super) struct AliasForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirmed: Option<String>,
}

/// `POST /models/{name}/aliases/{alias}/delete`.
pub(super) async fn delete_alias(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path((name, alias)): Path<(String, String)>,
    form: Result<Form<AliasForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The form is not understood: post it from a model's page.",
        );
    };
    let holder = match ui.store.get_version_by_alias(&name, &alias).await {
        Ok(version) => version,
        Err(e) => return store_refusal(&e),
    };
    let reason = form.reason.trim();
    if form.confirmed.is_none() || reason.is_empty() {
        let problem = form.confirmed.is_some().then_some("Say why: the audit trail keeps the reason.");
        let change = format!(
            "@{alias} is removed from version {}; nothing will answer models:/{name}@{alias}.",
            holder.version
        );
        return confirmation(
            &viewer,
            &name,
            &model_href(&name),
            &format!("Remove @{alias}"),
            vec![change],
            &[],
            reason,
            problem,
        );
    }
    match ui.store.delete_alias(&name, &alias, &viewer.name, reason).await {
        Ok(()) => Redirect::to(&format!("{}#audit", model_href(&name))).into_response(),
        Err(e) => store_refusal(&e),
    }
}

/// The page that says what an action will change and asks why; 422 when
/// it comes back without a reason.
#[allow(clippy::too_many_arguments)]
fn confirmation(
    viewer: &Viewer,
    name: &str,
    back: &str,
    title: &str,
    changes: Vec<String>,
    hidden: &[(&str, String)],
    reason: &str,
    problem: Option<&str>,
) -> Response {
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let model = model_href(name);
    render_with_status(
        status,
        "models/confirm.html",
        page_context(
            viewer,
            "/models",
            &[("Models", Some("/models")), (name, Some(&model)), (title, None)],
            context! { title, changes, hidden => hidden.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<Vec<_>>(), reason, problem, back },
        ),
    )
}
