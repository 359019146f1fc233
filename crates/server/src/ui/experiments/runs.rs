//! An experiment's runs table (`/experiments/{id}`): columns chosen from
//! the runs' params, metrics and tags, sorted by any of them, filtered
//! with the API's grammar (`metrics.accuracy > 0.9 and params.model =
//! 'rf'`), paged; runs ticked here are compared side by side.
//!
//! The whole view (columns, filter, order, page) is the page's address,
//! so a view is shared by sharing its link. A filter or order the store
//! cannot read is answered with the table's page and the reason inline,
//! with status 400.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{Value, context};
use retrain_registry::ErrorCode;
use retrain_registry::entities::{Run, ViewType};
use serde::{Deserialize, Serialize};

use super::{experiment_href, run_href};
use crate::ui::render::{num, render_with_status};
use crate::ui::store_refusal;
use crate::ui::{Ui, Viewer, page_context};

/// Runs shown a page.
const RUNS_A_PAGE: i64 = 50;
/// Columns of each kind shown when the address chooses none.
const DEFAULT_COLUMNS: usize = 6;

/// The view, as the address holds it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct View {
    #[serde(default)]
    filter: String,
    /// `metrics.accuracy DESC`, `attributes.start_time ASC`, …
    #[serde(default)]
    order: String,
    /// `metrics.KEY`, `params.KEY` or `tags.KEY`, in the order shown.
    #[serde(default)]
    cols: Vec<String>,
    /// The store's token for the page to show; the first page without it.
    page: Option<String>,
}

/// What a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Metrics,
    Params,
    Tags,
}

impl Kind {
    fn of(prefix: &str) -> Option<Kind> {
        match prefix {
            "metrics" => Some(Kind::Metrics),
            "params" => Some(Kind::Params),
            "tags" => Some(Kind::Tags),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Metrics => "metrics",
            Kind::Params => "params",
            Kind::Tags => "tags",
        }
    }
}

/// A column: a kind and a key, written `metrics.accuracy`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    kind: Kind,
    key: String,
}

impl Column {
    fn parse(text: &str) -> Option<Column> {
        let (prefix, key) = text.split_once('.')?;
        let kind = Kind::of(prefix)?;
        (!key.is_empty()).then(|| Column { kind, key: key.to_owned() })
    }

    fn spelled(&self) -> String {
        format!("{}.{}", self.kind.prefix(), self.key)
    }

    /// The column in an `order_by`: the key quoted when it is not a plain
    /// identifier.
    fn order_key(&self) -> String {
        let plain = self.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain { self.spelled() } else { format!("{}.`{}`", self.kind.prefix(), self.key) }
    }

    /// The run's value in this column, as the table writes it.
    fn value_in(&self, run: &Run) -> Option<String> {
        match self.kind {
            Kind::Metrics => {
                run.data.metrics.iter().find(|m| m.key == self.key).map(|m| num(Value::from(m.value)))
            }
            Kind::Params => run.data.params.iter().find(|p| p.key == self.key).map(|p| p.value.clone()),
            Kind::Tags => run.data.tags.iter().find(|t| t.key == self.key).map(|t| t.value.clone()),
        }
    }
}

#[derive(Serialize)]
struct Header {
    label: String,
    /// What the column shows; `None` for the run's own fields.
    kind: Option<Kind>,
    /// The table sorted by this column, the other way round when it is
    /// sorted by it already.
    sort_href: String,
    /// `asc` or `desc` when the table is sorted by this column.
    sorted: Option<&'static str>,
}

#[derive(Serialize)]
struct RunRow {
    id: String,
    href: String,
    name: String,
    status: String,
    started: i64,
    duration: Option<i64>,
    user: String,
    cells: Vec<Option<String>>,
    numeric: Vec<bool>,
}

#[derive(Serialize)]
struct Choice {
    spelled: String,
    chosen: bool,
}

/// `GET /experiments/{id}`.
pub(super) async fn runs(
    State(ui): State<Arc<Ui>>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let experiment = match ui.store.get_experiment(&id).await {
        Ok(experiment) => experiment,
        Err(e) => return store_refusal(&e),
    };
    let (view, mut problems) = match serde_html_form::from_str::<View>(query.as_deref().unwrap_or("")) {
        Ok(view) => (view, Vec::new()),
        Err(e) => (View::default(), vec![format!("The address does not read: {e}.")]),
    };
    let mut chosen: Vec<Column> = Vec::new();
    for text in view.cols.iter().filter(|c| !c.is_empty()) {
        match Column::parse(text) {
            Some(column) if !chosen.contains(&column) => chosen.push(column),
            Some(_) => {}
            None => problems.push(format!(
                "Column '{text}' is left out: a column is metrics.KEY, params.KEY or tags.KEY."
            )),
        }
    }
    let filter = view.filter.trim();
    let order = view.order.trim();
    let order_by: Vec<String> = if order.is_empty() { Vec::new() } else { vec![order.to_owned()] };
    let found = ui
        .store
        .search_runs(
            std::slice::from_ref(&experiment.experiment_id),
            Some(filter).filter(|f| !f.is_empty()),
            ViewType::ActiveOnly,
            Some(RUNS_A_PAGE),
            &order_by,
            view.page.as_deref(),
        )
        .await;
    let (status, runs, next) = match found {
        Ok((runs, next)) => (StatusCode::OK, runs, next),
        Err(e) if e.code == ErrorCode::InvalidParameterValue => {
            problems.push(format!("The filter or the order does not read: {}", e.message));
            (StatusCode::BAD_REQUEST, Vec::new(), None)
        }
        Err(e) => return store_refusal(&e),
    };

    let seen = keys_seen(&runs);
    if view.cols.is_empty() {
        chosen = default_columns(&seen);
    }
    let base = experiment_href(&experiment.experiment_id);
    let address = |order: &str, page: Option<&str>| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !filter.is_empty() {
            pairs.push(("filter", filter.to_owned()));
        }
        if !order.is_empty() {
            pairs.push(("order", order.to_owned()));
        }
        pairs.extend(chosen.iter().map(|c| ("cols", c.spelled())));
        if let Some(page) = page {
            pairs.push(("page", page.to_owned()));
        }
        let query = serde_html_form::to_string(&pairs).unwrap_or_default();
        if query.is_empty() { base.clone() } else { format!("{base}?{query}") }
    };
    let header = |label: String, kind: Option<Kind>, key: String| {
        let sorted = if order == format!("{key} DESC") {
            Some("desc")
        } else if order == format!("{key} ASC") || order == key {
            Some("asc")
        } else {
            None
        };
        let next_order = if sorted == Some("desc") { format!("{key} ASC") } else { format!("{key} DESC") };
        Header { label, kind, sort_href: address(&next_order, None), sorted }
    };
    let started = header("Started".into(), None, "attributes.start_time".into());
    let name = header("Run".into(), None, "attributes.run_name".into());
    let headers: Vec<Header> =
        chosen.iter().map(|c| header(c.key.clone(), Some(c.kind), c.order_key())).collect();
    let rows: Vec<RunRow> = runs
        .iter()
        .map(|run| RunRow {
            id: run.info.run_id.clone(),
            href: run_href(&experiment.experiment_id, &run.info.run_id),
            name: run.info.run_name.clone(),
            status: run.info.status.clone(),
            started: run.info.start_time,
            duration: run.info.end_time.map(|end| end - run.info.start_time),
            user: run.info.user_id.clone(),
            cells: chosen.iter().map(|c| c.value_in(run)).collect(),
            numeric: chosen.iter().map(|c| c.kind == Kind::Metrics).collect(),
        })
        .collect();
    let mut choices: Vec<Choice> = seen
        .iter()
        .chain(chosen.iter().filter(|c| !seen.contains(c)))
        .map(|c| Choice { spelled: c.spelled(), chosen: chosen.contains(c) })
        .collect();
    choices.sort_by(|a, b| a.spelled.cmp(&b.spelled));
    let next = next.map(|token| address(order, Some(&token)));
    let first = view.page.is_some().then(|| address(order, None));
    let title = experiment.name.clone();
    render_with_status(
        status,
        "experiments/runs.html",
        page_context(
            &viewer,
            "/experiments",
            &[("Experiments", Some("/experiments")), (&title, None)],
            context! {
                experiment => Serde(&experiment),
                base,
                filter,
                order,
                problems,
                started => Serde(started),
                name => Serde(name),
                headers => Serde(headers),
                runs => Serde(rows),
                choices => Serde(choices),
                next,
                first,
            },
        ),
    )
}

/// The params, metrics and user tags the runs have (not MLflow's own
/// `mlflow.*` tags), metrics first.
fn keys_seen(runs: &[Run]) -> BTreeSet<Column> {
    let mut seen = BTreeSet::new();
    for run in runs {
        let metrics = run.data.metrics.iter().map(|m| (Kind::Metrics, &m.key));
        let params = run.data.params.iter().map(|p| (Kind::Params, &p.key));
        let tags =
            run.data.tags.iter().filter(|t| !t.key.starts_with("mlflow.")).map(|t| (Kind::Tags, &t.key));
        for (kind, key) in metrics.chain(params).chain(tags) {
            seen.insert(Column { kind, key: key.clone() });
        }
    }
    seen
}

/// The columns an address that chooses none shows: the first few metrics
/// and params, by name.
fn default_columns(seen: &BTreeSet<Column>) -> Vec<Column> {
    let of = |kind: Kind| seen.iter().filter(move |c| c.kind == kind).take(DEFAULT_COLUMNS).cloned();
    of(Kind::Metrics).chain(of(Kind::Params)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_a_kind_and_a_key() {
        let column = Column::parse("metrics.val loss").unwrap();
        assert_eq!(column.kind, Kind::Metrics);
        assert_eq!(column.order_key(), "metrics.`val loss`");
        assert_eq!(Column::parse("params.model").unwrap().order_key(), "params.model");
        assert_eq!(Column::parse("attributes.status"), None);
        assert_eq!(Column::parse("metrics."), None);
        assert_eq!(Column::parse("accuracy"), None);
    }
}
