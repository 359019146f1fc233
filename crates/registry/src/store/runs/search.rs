//! `runs/search`: runs of some experiments matching a filter, ordered by
//! metrics, params, tags or attributes, a page at a time.
//!
//! Order values are computed once per run in an inner query. When the
//! only order is a metric the filter also compares (so every match has
//! it), the search instead walks `latest_metrics(key, value)` in order and
//! stops after one page, from where the filter's comparisons on that
//! metric allow; a test checks both plans give the same pages.

use crate::SqlStore;
use crate::db::{Arg, Sql};
use crate::entities::{Run, RunInputs, ViewType};
use crate::error::{Result, StoreError};
use crate::filter;
use crate::store::runs::run_info_from_row;
use crate::store::search::{
    KeyValues, Kind, Page, Search, attribute, lifecycle_condition, metric_condition, parse_order_item,
};

/// How runs are searched: the engine's filter and attributes; the
/// orders and the plan are this module's.
const RUNS: Search = Search {
    plural: "runs",
    select: "SELECT r.* FROM runs r",
    attributes: &[
        attribute("run_id", "r.run_id", Kind::Text),
        attribute("run_name", "r.run_name", Kind::Text),
        attribute("status", "r.status", Kind::Text),
        attribute("user_id", "r.user_id", Kind::Text),
        attribute("artifact_uri", "r.artifact_uri", Kind::Text),
        attribute("start_time", "r.start_time", Kind::Number),
        attribute("end_time", "r.end_time", Kind::Number),
    ],
    tags: KeyValues { table: "tags", join: "x.run_id = r.run_id" },
    params: Some(KeyValues { table: "params", join: "x.run_id = r.run_id" }),
    metrics: Some(KeyValues { table: "latest_metrics", join: "m.run_id = r.run_id" }),
    orderable: &[],
    default_order: "q.start_time DESC, q.run_id ASC",
    page_size: 1000,
};

impl SqlStore {
    /// Runs of the given experiments matching an MLflow filter, ordered by
    /// `order_by` (`metrics.acc DESC`, `attributes.start_time`, …) and
    /// then newest first.
    pub async fn search_runs(
        &self,
        experiment_ids: &[String],
        filter: Option<&str>,
        view: ViewType,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<(Vec<Run>, Option<String>)> {
        let page = Page::new(max_results, RUNS.page_size, page_token)?;
        let clauses = filter::parse(filter.unwrap_or(""))?;
        let mut ids = Vec::new();
        for id in experiment_ids {
            ids.push(Arg::Int(id.parse::<i64>().map_err(|_| {
                StoreError::invalid(format!("experiment_ids must be numeric ids, got '{id}'"))
            })?));
        }
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let mut sql = match filtered_metric_order(order_by, &clauses)? {
            // "The best runs where acc > x": every run that passes the
            // filter has the metric, so the search walks the (key, value)
            // index in order, from where the comparisons on that key allow,
            // and stops after one page instead of scoring every run of the
            // experiment.
            Some((key, descending)) => {
                let (on_key, others): (Vec<_>, Vec<_>) =
                    clauses.into_iter().partition(|c| c.entity == filter::Entity::Metric && c.key == key);
                let mut sql = Sql::new(
                    "SELECT r.* FROM latest_metrics lm JOIN runs r ON r.run_id = lm.run_id WHERE lm.key = ",
                );
                sql.text_arg(key);
                for clause in &on_key {
                    sql.push(" AND ");
                    metric_condition(&mut sql, "lm.value", clause)?;
                }
                sql.push(" AND r.experiment_id IN ").list(ids);
                lifecycle_condition(&mut sql, "r.lifecycle_stage", view);
                RUNS.filter(&mut sql, &others)?;
                let direction = if descending { "DESC" } else { "ASC" };
                sql.push(&format!(" ORDER BY lm.value {direction}, r.start_time DESC, r.run_id ASC"));
                sql
            }
            None => {
                // Order values are computed once per run in an inner query
                // (their arguments bound first, so placeholders stay in
                // textual order).
                let mut sql = Sql::new("SELECT * FROM (SELECT r.*");
                let mut order = Vec::new();
                for (index, item) in order_by.iter().enumerate() {
                    let (column, term) = run_order_term(&mut sql, item, index)?;
                    sql.push(&column);
                    order.push(term);
                }
                sql.push(" FROM runs r WHERE r.experiment_id IN ");
                sql.list(ids);
                lifecycle_condition(&mut sql, "r.lifecycle_stage", view);
                RUNS.filter(&mut sql, &clauses)?;
                sql.push(") q ORDER BY ");
                for term in &order {
                    sql.push(term).push(", ");
                }
                sql.push(RUNS.default_order);
                sql
            }
        };
        page.apply(&mut sql);
        let rows = sql.fetch_all(&self.db.pool).await?;
        let (rows, next) = page.split(rows);
        let infos = rows.iter().map(run_info_from_row).collect::<Result<Vec<_>>>()?;
        let run_ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
        let data = self.runs_data(&run_ids).await?;
        let runs = infos
            .into_iter()
            .zip(data)
            .map(|(info, (_, data))| Run { info, data, inputs: RunInputs::default() })
            .collect();
        Ok((runs, next))
    }
}

/// The metric of a search ordered by one metric that the filter also
/// compares (so every matching run has it), and whether descending.
fn filtered_metric_order(order_by: &[String], clauses: &[filter::Clause]) -> Result<Option<(String, bool)>> {
    let [item] = order_by else { return Ok(None) };
    let (key, descending) = parse_order_item(item)?;
    let Some((entity, name)) = key.split_once('.') else { return Ok(None) };
    if !matches!(entity.to_ascii_lowercase().as_str(), "metric" | "metrics") {
        return Ok(None);
    }
    let name = name.trim_matches('`').trim_matches('"');
    let filtered = clauses.iter().any(|c| c.entity == filter::Entity::Metric && c.key == name);
    Ok(filtered.then(|| (name.to_owned(), descending)))
}

/// For the `index`th order item: a column to add to the inner query
/// (empty for attributes, already there) and the ORDER BY term over the
/// inner query `q`. Missing values sort last either way.
fn run_order_term(sql: &mut Sql, item: &str, index: usize) -> Result<(String, String)> {
    let (key, descending) = parse_order_item(item)?;
    let direction = if descending { "DESC" } else { "ASC" };
    let (entity, name) = match key.split_once('.') {
        Some((prefix, name)) => {
            (prefix.to_ascii_lowercase(), name.trim_matches('`').trim_matches('"').to_owned())
        }
        None => ("attributes".to_owned(), key.clone()),
    };
    let expression = match entity.as_str() {
        "metric" | "metrics" => {
            let key = sql.bind(Arg::Text(name));
            format!("(SELECT m.value FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = {key})")
        }
        "param" | "params" | "parameter" | "parameters" | "tag" | "tags" => {
            let table = if entity.starts_with("tag") { "tags" } else { "params" };
            let key = sql.bind(Arg::Text(name));
            format!("(SELECT x.value FROM {table} x WHERE x.run_id = r.run_id AND x.key = {key})")
        }
        "attribute" | "attributes" | "attr" | "run" => {
            let column = RUNS.attribute(&name)?.column.replacen("r.", "q.", 1);
            return Ok((String::new(), format!("({column} IS NULL), {column} {direction}")));
        }
        other => {
            return Err(StoreError::invalid(format!("invalid order_by '{item}': unknown entity '{other}'")));
        }
    };
    let alias = format!("o{index}");
    Ok((format!(", {expression} AS {alias}"), format!("({alias} IS NULL), {alias} {direction}")))
}
