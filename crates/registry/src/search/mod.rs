//! MLflow's searches: a filter (see [`crate::filter`]) turned into
//! parameterised conditions, orders and pages.

use base64::Engine;

use crate::db::{Arg, Sql};
use crate::entities::ViewType;
use crate::error::{Result, StoreError};
use crate::filter::{Clause, Comparator, Entity, Value};

/// The most results one search page may ask for.
const MAX_RESULTS_LIMIT: i64 = 50_000;

/// One page of a search: `limit` rows from `offset`. The query asks for one
/// row more, whose presence means there is a next page; page tokens are
/// base64 of `{"offset": N}`, as MLflow's.
pub struct Page {
    limit: i64,
    offset: i64,
}

impl Page {
    pub fn new(max_results: Option<i64>, default: i64, token: Option<&str>) -> Result<Page> {
        let limit = max_results.unwrap_or(default);
        if !(1..=MAX_RESULTS_LIMIT).contains(&limit) {
            return Err(StoreError::invalid(format!(
                "max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {limit}"
            )));
        }
        let offset = match token.filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) => {
                let invalid = || StoreError::invalid(format!("invalid page_token '{token}'"));
                let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
                let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
                value.get("offset").and_then(|o| o.as_i64()).filter(|o| *o >= 0).ok_or_else(invalid)?
            }
        };
        Ok(Page { limit, offset })
    }

    /// Appends ` LIMIT … OFFSET …` for this page (one row more than the page).
    pub(crate) fn apply<'s>(&self, sql: &'s mut Sql) -> &'s mut Sql {
        sql.push(" LIMIT ").int_arg(self.limit + 1).push(" OFFSET ").int_arg(self.offset)
    }

    /// Keeps this page's rows; returns them with the next page's token.
    pub fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = format!("{{\"offset\": {}}}", self.offset + self.limit);
        (rows, more.then(|| base64::engine::general_purpose::STANDARD.encode(next)))
    }
}

/// How a search maps filter attributes to columns: the attribute names a
/// user may write, and whether each holds numbers or text.
pub struct AttributeColumns {
    pub columns: &'static [(&'static str, &'static str, bool)],
}

impl AttributeColumns {
    pub fn lookup(&self, key: &str) -> Option<(&'static str, bool)> {
        self.columns.iter().find(|c| c.0 == key).map(|c| (c.1, c.2))
    }

    pub fn names(&self) -> String {
        self.columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    }
}

/// Appends `AND <condition>` for each filter clause on runs (aliased `r`).
pub fn runs_where(sql: &mut Sql, clauses: &[Clause], attributes: &AttributeColumns) -> Result<()> {
    for clause in clauses {
        sql.push(" AND ");
        match clause.entity {
            Entity::Metric => {
                sql.push("EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = ")
                    .text_arg(clause.key.clone())
                    .push(" AND ");
                metric_condition(sql, "m.value", clause)?;
                sql.push(")");
            }
            Entity::Param | Entity::Tag => {
                let table = if clause.entity == Entity::Param { "params" } else { "tags" };
                let prefix = if clause.entity == Entity::Param { "params" } else { "tags" };
                if clause.comparator.is_ordering() {
                    return Err(StoreError::invalid(format!(
                        "{prefix}.{} holds text: use =, !=, LIKE, ILIKE, IN or NOT IN",
                        clause.key
                    )));
                }
                sql.push(&format!("EXISTS (SELECT 1 FROM {table} x WHERE x.run_id = r.run_id AND x.key = "))
                    .text_arg(clause.key.clone())
                    .push(" AND ");
                text_condition(sql, "x.value", clause)?;
                sql.push(")");
            }
            Entity::Attribute => {
                let Some((column, numeric)) = attributes.lookup(&clause.key) else {
                    return Err(StoreError::invalid(format!(
                        "unknown attribute '{}'; searchable attributes are {}",
                        clause.key,
                        attributes.names()
                    )));
                };
                if numeric {
                    numeric_condition(sql, column, clause)?;
                } else {
                    text_condition(sql, column, clause)?;
                }
            }
        }
    }
    Ok(())
}

/// `column <op> value` for a column holding the clause's metric value.
pub fn metric_condition(sql: &mut Sql, column: &str, clause: &Clause) -> Result<()> {
    let Value::Number(n) = clause.value else {
        return Err(StoreError::invalid(format!(
            "metrics.{} must be compared with a number, e.g. metrics.{} > 0.9",
            clause.key, clause.key
        )));
    };
    if matches!(clause.comparator, Comparator::Like | Comparator::ILike | Comparator::In | Comparator::NotIn)
    {
        return Err(StoreError::invalid(format!(
            "metrics.{} takes =, !=, <, <=, > or >=, not {}",
            clause.key,
            clause.comparator.sql()
        )));
    }
    sql.push(&format!("{column} {} ", clause.comparator.sql())).arg(Arg::Float(n));
    Ok(())
}

/// `column <op> value` for a text column; `LIKE` is case-sensitive and
/// `ILIKE` case-insensitive on both engines.
pub fn text_condition(sql: &mut Sql, column: &str, clause: &Clause) -> Result<()> {
    let text = |v: &Value| match v {
        Value::Text(s) => Ok(s.clone()),
        Value::Number(_) | Value::List(_) => Err(StoreError::invalid(format!(
            "'{}' holds text: quote the value, e.g. {} = 'value'",
            clause.key, clause.key
        ))),
    };
    match clause.comparator {
        Comparator::In | Comparator::NotIn => {
            let Value::List(items) = &clause.value else {
                return Err(StoreError::invalid("IN takes a list"));
            };
            sql.push(&format!("{column} {} ", clause.comparator.sql()));
            sql.list(items.iter().cloned().map(Arg::Text));
        }
        Comparator::Like => {
            // Case-sensitive: PostgreSQL's LIKE is; SQLite connections
            // are opened with `case_sensitive_like` on.
            sql.push(&format!("{column} LIKE ")).text_arg(text(&clause.value)?);
        }
        Comparator::ILike => {
            sql.push(&format!("LOWER({column}) LIKE LOWER(")).text_arg(text(&clause.value)?).push(")");
        }
        Comparator::Eq | Comparator::Ne => {
            sql.push(&format!("{column} {} ", clause.comparator.sql())).text_arg(text(&clause.value)?);
        }
        _ => {
            return Err(StoreError::invalid(format!(
                "'{}' holds text: use =, !=, LIKE, ILIKE, IN or NOT IN",
                clause.key
            )));
        }
    }
    Ok(())
}

fn numeric_condition(sql: &mut Sql, column: &str, clause: &Clause) -> Result<()> {
    let Value::Number(n) = clause.value else {
        return Err(StoreError::invalid(format!(
            "attributes.{} is a number (epoch milliseconds for times): compare it with a number",
            clause.key
        )));
    };
    if matches!(clause.comparator, Comparator::Like | Comparator::ILike | Comparator::In | Comparator::NotIn)
    {
        return Err(StoreError::invalid(format!("attributes.{} takes =, !=, <, <=, > or >=", clause.key)));
    }
    sql.push(&format!("{column} {} ", clause.comparator.sql())).arg(Arg::Int(n as i64));
    Ok(())
}

pub(crate) fn lifecycle_condition(sql: &mut Sql, column: &str, view: ViewType) {
    match view {
        ViewType::ActiveOnly => sql.push(&format!(" AND {column} = 'active'")),
        ViewType::DeletedOnly => sql.push(&format!(" AND {column} = 'deleted'")),
        ViewType::All => sql,
    };
}

/// Splits `"metrics.acc DESC"` into the key and whether it descends.
pub(crate) fn parse_order_item(item: &str) -> Result<(String, bool)> {
    let item = item.trim();
    let (key, direction) = match item.rsplit_once(char::is_whitespace) {
        Some((k, d)) if d.eq_ignore_ascii_case("asc") => (k.trim(), false),
        Some((k, d)) if d.eq_ignore_ascii_case("desc") => (k.trim(), true),
        _ => (item, false),
    };
    if key.is_empty() {
        return Err(StoreError::invalid(format!("invalid order_by clause '{item}'")));
    }
    Ok((key.trim_matches('`').to_string(), direction))
}
