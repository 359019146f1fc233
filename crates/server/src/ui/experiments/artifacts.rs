//! A run's artifacts on its page: the directory asked for as a tree one
//! level deep with the way back up, a file's preview (text, JSON pretty
//! printed, CSV as a table, images), and the file itself to download.
//!
//! Only artifacts this server keeps (under `mlflow-artifacts:`) can be
//! shown; a run whose artifacts live elsewhere says where they are.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use retrain_registry::entities::Run;
use retrain_registry::{ErrorCode, FileInfo};
use serde::{Deserialize, Serialize};

use crate::ui::Ui;
use crate::ui::render::error_page;
use crate::ui::store_refusal;

/// Files larger than this are offered for download, not previewed.
const PREVIEW_BYTES: u64 = 1 << 20;
/// Rows of a CSV file a preview shows.
const PREVIEW_ROWS: usize = 100;

/// What the page shows of the run's artifacts.
#[derive(Serialize)]
pub(super) struct Browsed {
    /// Where the run's artifacts are, when this server cannot show them.
    elsewhere: Option<String>,
    /// The directory listed, relative to the run's root; empty for the root.
    dir: String,
    /// (name, path) of each directory from the root down to `dir`.
    trail: Vec<(String, String)>,
    entries: Vec<Entry>,
    preview: Option<Preview>,
    /// What was asked for but is not there.
    missing: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    path: String,
    is_dir: bool,
    size: Option<u64>,
}

/// A file shown on the page.
#[derive(Serialize)]
struct Preview {
    path: String,
    name: String,
    size: Option<u64>,
    /// `text`, `json`, `csv`, `image`, or `none` with the reason in `note`.
    kind: &'static str,
    text: String,
    rows: Vec<Vec<String>>,
    note: String,
}

/// The run's artifact root within this server's store, or `None` when
/// its artifacts are kept elsewhere.
fn root_of(run: &Run) -> Option<String> {
    let root = run.info.artifact_uri.strip_prefix(crate::ARTIFACT_ROOT)?;
    Some(root.trim_matches('/').to_owned())
}

fn joined(root: &str, path: &str) -> String {
    let path = path.trim_matches('/');
    match (root.is_empty(), path.is_empty()) {
        (_, true) => root.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{root}/{path}"),
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The artifacts at `path` (a directory, or a file shown in its
/// directory) of `run`.
pub(super) async fn browse(ui: &Ui, run: &Run, path: &str) -> Result<Browsed, Response> {
    let path = path.trim_matches('/');
    let Some(root) = root_of(run) else {
        return Ok(Browsed {
            elsewhere: Some(run.info.artifact_uri.clone()),
            dir: String::new(),
            trail: Vec::new(),
            entries: Vec::new(),
            preview: None,
            missing: None,
        });
    };
    let list = |dir: String| {
        let root = root.clone();
        async move { ui.artifacts.list(&joined(&root, &dir), &root).await }
    };
    let siblings = if path.is_empty() {
        Vec::new()
    } else {
        list(parent(path).to_owned()).await.map_err(|e| store_refusal(&e))?
    };
    let file = siblings.iter().find(|f| f.path == path && !f.is_dir);
    let (dir, entries, preview, missing) = match file {
        Some(file) => {
            let preview = preview(ui, &root, file).await?;
            (parent(path).to_owned(), siblings.iter().map(entry).collect(), Some(preview), None)
        }
        None => {
            let entries = list(path.to_owned()).await.map_err(|e| store_refusal(&e))?;
            let missing = (entries.is_empty() && !path.is_empty()).then(|| path.to_owned());
            (path.to_owned(), entries.iter().map(entry).collect(), None, missing)
        }
    };
    Ok(Browsed { elsewhere: None, trail: trail(&dir), dir, entries, preview, missing })
}

fn entry(file: &FileInfo) -> Entry {
    Entry {
        name: file_name(&file.path).to_owned(),
        path: file.path.clone(),
        is_dir: file.is_dir,
        size: file.file_size,
    }
}

/// The directories from the root down to `dir`, each with its path.
fn trail(dir: &str) -> Vec<(String, String)> {
    let mut trail = Vec::new();
    let mut path = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        trail.push((part.to_owned(), path.clone()));
    }
    trail
}

/// How a file is previewed, from its name.
fn kind_of(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "json" => "json",
        "csv" | "tsv" => "csv",
        "png" | "jpg" | "jpeg" | "gif" | "webp" => "image",
        _ => "text",
    }
}

async fn preview(ui: &Ui, root: &str, file: &FileInfo) -> Result<Preview, Response> {
    let name = file_name(&file.path).to_owned();
    let mut shown = Preview {
        path: file.path.clone(),
        name: name.clone(),
        size: file.file_size,
        kind: kind_of(&name),
        text: String::new(),
        rows: Vec::new(),
        note: String::new(),
    };
    if shown.kind == "image" {
        return Ok(shown);
    }
    if file.file_size.is_some_and(|size| size > PREVIEW_BYTES) {
        shown.kind = "none";
        shown.note = format!("Larger than {} KiB: download it to look inside.", PREVIEW_BYTES / 1024);
        return Ok(shown);
    }
    let bytes = ui.artifacts.get(&joined(root, &file.path)).await.map_err(|e| store_refusal(&e))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        shown.kind = "none";
        shown.note = "Not text: download it to open it.".to_owned();
        return Ok(shown);
    };
    match shown.kind {
        "json" => {
            shown.text = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| text.to_owned());
        }
        "csv" => {
            let delimiter = if name.to_ascii_lowercase().ends_with(".tsv") { b'\t' } else { b',' };
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .from_reader(text.as_bytes());
            for record in reader.records().take(PREVIEW_ROWS + 1) {
                match record {
                    Ok(record) => shown.rows.push(record.iter().map(str::to_owned).collect()),
                    Err(e) => {
                        shown.note = format!("Shown up to where it stops being CSV: {e}.");
                        break;
                    }
                }
            }
            let lines = text.lines().count();
            if lines > PREVIEW_ROWS + 1 {
                shown.note = format!("The first {PREVIEW_ROWS} of {} rows.", lines - 1);
            }
        }
        _ => shown.text = text.to_owned(),
    }
    Ok(shown)
}

#[derive(Deserialize)]
pub(super) struct FileQuery {
    path: String,
    /// `1` asks for the file as a download even when a browser could
    /// show it.
    #[serde(default)]
    download: Option<String>,
}

/// `GET /experiments/{id}/runs/{run_id}/artifact?path=FILE`: the file;
/// images inline (for previews), anything else as a download.
pub(super) async fn file(
    State(ui): State<Arc<Ui>>,
    Path((id, run_id)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Response {
    let run = match super::run_in(&ui, &id, &run_id).await {
        Ok(run) => run,
        Err(page) => return *page,
    };
    let Some(root) = root_of(&run) else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("This run's artifacts are kept at {}, not on this server.", run.info.artifact_uri),
        );
    };
    let path = query.path.trim_matches('/');
    let bytes = match ui.artifacts.get(&joined(&root, path)).await {
        Ok(bytes) => bytes,
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => {
            return error_page(StatusCode::NOT_FOUND, &format!("This run has no artifact '{path}'."));
        }
        Err(e) => return store_refusal(&e),
    };
    let name = file_name(path).replace(['"', '\\'], "");
    let image = kind_of(&name) == "image" && query.download.as_deref() != Some("1");
    let (content_type, disposition) = if image {
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let subtype = if extension == "jpg" { "jpeg".to_owned() } else { extension };
        (format!("image/{subtype}"), "inline".to_owned())
    } else {
        ("application/octet-stream".to_owned(), format!("attachment; filename=\"{name}\""))
    };
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}
