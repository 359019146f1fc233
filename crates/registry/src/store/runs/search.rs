//! `runs/search`: runs of some experiments matching a filter, ordered by
//! metrics, params, tags or attributes, a page at a time.
//!
//! Order values are computed once per run in an inner query. When the
//! only order is a metric, the search instead walks `latest_metrics(key,
//! value)` in order and stops after one page, from where the filter's
//! comparisons on that metric allow; the runs without a value follow, as
//! the general plan sorts them. A test checks both plans give the same
//! pages.

use sqlx::Row;
use sqlx::any::AnyRow;

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
        let rows = match single_metric_order(order_by)? {
            Some((key, descending)) => {
                self.walk_metric(&MetricWalk { key, descending, ids, clauses, view }, &page).await?
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
                page.apply(&mut sql);
                sql.fetch_all(&self.db.pool).await?
            }
        };
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

/// A search ordered by one metric, walked along the `(key, value)` index.
struct MetricWalk {
    key: String,
    descending: bool,
    ids: Vec<Arg>,
    clauses: Vec<filter::Clause>,
    view: ViewType,
}

impl MetricWalk {
    /// The runs that have a value of the metric, best first (one
    /// direction or the other); `count` makes it their number instead.
    fn valued(&self, count: bool) -> Result<Sql> {
        let select = if count { "SELECT COUNT(*) AS n" } else { "SELECT r.*" };
        let mut sql = Sql::new(select);
        sql.push(" FROM latest_metrics lm JOIN runs r ON r.run_id = lm.run_id WHERE lm.key = ");
        sql.text_arg(self.key.clone()).push(" AND lm.value IS NOT NULL");
        let (on_key, others): (Vec<_>, Vec<_>) =
            self.clauses.iter().cloned().partition(|c| self.compares_the_metric(c));
        for clause in &on_key {
            sql.push(" AND ");
            metric_condition(&mut sql, "lm.value", clause)?;
        }
        self.common(&mut sql, &others)?;
        if !count {
            let direction = if self.descending { "DESC" } else { "ASC" };
            sql.push(&format!(" ORDER BY lm.value {direction}, r.start_time DESC, r.run_id ASC"));
        }
        Ok(sql)
    }

    /// The runs without a value of the metric (missing, or NaN), newest
    /// first: the general plan sorts them last.
    fn unvalued(&self) -> Result<Sql> {
        let mut sql = Sql::new(
            "SELECT r.* FROM runs r WHERE NOT EXISTS (SELECT 1 FROM latest_metrics lv \
             WHERE lv.run_id = r.run_id AND lv.value IS NOT NULL AND lv.key = ",
        );
        sql.text_arg(self.key.clone()).push(")");
        self.common(&mut sql, &self.clauses)?;
        sql.push(" ORDER BY r.start_time DESC, r.run_id ASC");
        Ok(sql)
    }

    /// The experiments, lifecycle and the rest of the filter, shared by
    /// both parts.
    fn common(&self, sql: &mut Sql, clauses: &[filter::Clause]) -> Result<()> {
        sql.push(" AND r.experiment_id IN ").list(self.ids.iter().cloned());
        lifecycle_condition(sql, "r.lifecycle_stage", self.view);
        RUNS.filter(sql, clauses)
    }

    fn compares_the_metric(&self, clause: &filter::Clause) -> bool {
        clause.entity == filter::Entity::Metric && clause.key == self.key
    }

    /// Whether every run the filter lets through has the metric: it
    /// compares it.
    fn every_match_has_it(&self) -> bool {
        self.clauses.iter().any(|c| self.compares_the_metric(c))
    }
}

impl SqlStore {
    /// "The best runs by acc": walks the `(key, value)` index in order and
    /// stops after one page instead of scoring every run of the
    /// experiment. The runs without a value come after, read only by the
    /// pages that reach them; a filter comparing the metric has none.
    async fn walk_metric(&self, walk: &MetricWalk, page: &Page) -> Result<Vec<AnyRow>> {
        let mut sql = walk.valued(false)?;
        page.apply(&mut sql);
        let mut rows = sql.fetch_all(&self.db.pool).await?;
        if page.is_filled_by(rows.len()) || walk.every_match_has_it() {
            return Ok(rows);
        }
        // Where the unvalued runs start relative to this page.
        let valued_before = if rows.is_empty() && page.offset() > 0 {
            walk.valued(true)?.fetch_one(&self.db.pool).await?.try_get::<i64, _>("n")?
        } else {
            page.offset() + rows.len() as i64
        };
        let mut rest = walk.unvalued()?;
        page.apply_after(&mut rest, valued_before, rows.len());
        rows.extend(rest.fetch_all(&self.db.pool).await?);
        Ok(rows)
    }
}

/// The metric and direction of a search ordered by one metric only.
fn single_metric_order(order_by: &[String]) -> Result<Option<(String, bool)>> {
    let [item] = order_by else { return Ok(None) };
    let (key, descending) = parse_order_item(item)?;
    let Some((entity, name)) = key.split_once('.') else { return Ok(None) };
    if !matches!(entity.to_ascii_lowercase().as_str(), "metric" | "metrics") {
        return Ok(None);
    }
    let name = name.trim_matches('`').trim_matches('"');
    Ok(Some((name.to_owned(), descending)))
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
