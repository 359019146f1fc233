//! Building parameterised SQL that runs unchanged on SQLite and
//! PostgreSQL: placeholders are numbered `$1, $2, …` in order of
//! appearance (both engines accept that form), and every value supplied by
//! a user travels as a bound argument, never as SQL text.

use base64::Engine;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Arguments};

use crate::error::{Result, StoreError};
use crate::filter::{Clause, Comparator, Entity, Value};
use crate::store::Backend;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Float(f64),
    /// SQL NULL, typed so PostgreSQL can infer the parameter's type.
    NullText,
    NullInt,
    NullFloat,
}

/// SQL text with its arguments.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_string(), args: Vec::new() }
    }

    /// `INSERT INTO table (columns…) VALUES (…)` with every value bound.
    pub fn insert(table: &str, columns: &[&str], values: Vec<Arg>) -> Sql {
        Self::insert_rows(table, columns, vec![values])
    }

    /// One `INSERT` of several rows: `VALUES (…), (…), …`.
    pub fn insert_rows(table: &str, columns: &[&str], rows: Vec<Vec<Arg>>) -> Sql {
        let mut sql = Sql::new(&format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.list(row);
        }
        sql
    }

    /// Sets one key/value pair (a tag, a param) of the thing `owner`
    /// identifies: `INSERT … ON CONFLICT (owner…, key) DO UPDATE`.
    pub fn upsert_key_value(table: &str, owner: &[(&str, Arg)], key: &str, value: &str) -> Sql {
        let mut columns: Vec<&str> = owner.iter().map(|(c, _)| *c).collect();
        let conflict = columns.join(", ");
        columns.extend(["key", "value"]);
        let mut values: Vec<Arg> = owner.iter().map(|(_, v)| v.clone()).collect();
        values.extend([Arg::Text(key.into()), Arg::Text(value.into())]);
        let mut sql = Sql::insert(table, &columns, values);
        sql.push(&format!(" ON CONFLICT ({conflict}, key) DO UPDATE SET value = excluded.value"));
        sql
    }

    /// Appends ` LIMIT … OFFSET …` for `page` (one row more than the page).
    pub fn page(&mut self, page: &Page) -> &mut Self {
        self.push(" LIMIT ").int_arg(page.limit + 1).push(" OFFSET ").int_arg(page.offset)
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Registers `arg` and returns its placeholder without appending it,
    /// for text assembled elsewhere and appended in order later.
    pub fn bind(&mut self, arg: Arg) -> String {
        let mut placeholder = String::new();
        write_placeholder(&mut placeholder, self.register(arg));
        placeholder
    }

    /// Appends a placeholder bound to `arg`, written in place: a batch of
    /// metrics binds thousands.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        let number = self.register(arg);
        write_placeholder(&mut self.text, number);
        self
    }

    /// Adds `arg` to the bound arguments and returns its number, or `None`
    /// for a NULL double, which is written as a literal: sqlx 0.9's Any
    /// driver binds it as a 4-byte float, and PostgreSQL would then type
    /// the cached statement's parameter so, refusing the next non-null
    /// 8-byte double bound to the same statement.
    fn register(&mut self, arg: Arg) -> Option<usize> {
        if arg == Arg::NullFloat {
            return None;
        }
        self.args.push(arg);
        Some(self.args.len())
    }

    pub fn text_arg(&mut self, value: impl Into<String>) -> &mut Self {
        self.arg(Arg::Text(value.into()))
    }

    pub fn int_arg(&mut self, value: i64) -> &mut Self {
        self.arg(Arg::Int(value))
    }

    /// Appends `(p1, p2, …)` bound to `values`.
    pub fn list(&mut self, values: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v);
        }
        self.push(")")
    }

    /// The query ready to execute.
    pub fn query(&self) -> Query<'_, Any, AnyArguments> {
        self.query_with_text(self.text.clone())
    }

    /// The query for one engine. On SQLite the numbered placeholders
    /// become plain `?` (same order): binding `$N` makes SQLite look each
    /// name up in a list, quadratic in the number of parameters, which
    /// dominates a multi-row insert of hundreds of values.
    pub fn query_on(&self, backend: Backend) -> Query<'_, Any, AnyArguments> {
        match backend {
            Backend::Postgres => self.query(),
            Backend::Sqlite => self.query_with_text(positional(&self.text)),
        }
    }

    fn query_with_text(&self, text: String) -> Query<'_, Any, AnyArguments> {
        let mut args = AnyArguments::default();
        for arg in &self.args {
            // Adding an owned scalar to AnyArguments cannot fail.
            let _ = match arg {
                Arg::Text(s) => args.add(s.clone()),
                Arg::Int(i) => args.add(*i),
                Arg::Float(f) => args.add(*f),
                Arg::NullText => args.add(Option::<String>::None),
                Arg::NullInt => args.add(Option::<i64>::None),
                // Written as a literal NULL by `bind`, never bound.
                Arg::NullFloat => Ok(()),
            };
        }
        sqlx::query_with(sqlx::AssertSqlSafe(text), args)
    }
}

/// `$N` for the `N`th bound argument, `NULL` for a NULL double (see
/// [`Sql::register`]).
fn write_placeholder(text: &mut String, number: Option<usize>) {
    match number {
        Some(n) => {
            text.push('$');
            text.push_str(itoa::Buffer::new().format(n));
        }
        None => text.push_str("NULL"),
    }
}

/// `$1, $2, …` → `?, ?, …`. Placeholders appear in order by construction
/// and SQL text never holds a `$` otherwise (values are always bound).
fn positional(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Slices of `text` are cut next to `$` and digits, all ASCII, so on
    // character boundaries.
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let digits = if bytes[at] == b'$' {
            bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count()
        } else {
            0
        };
        if digits > 0 {
            out.push_str(&text[copied..at]);
            out.push('?');
            at += 1 + digits;
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_gets_plain_placeholders_in_the_same_order() {
        let mut sql = Sql::insert_rows(
            "t",
            &["a", "b"],
            vec![vec![Arg::Int(1), Arg::Text("x".into())], vec![Arg::Int(2), Arg::NullFloat]],
        );
        sql.push(" ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE a > ").int_arg(10);
        assert_eq!(
            sql.text,
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, NULL) ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE a > $4"
        );
        assert_eq!(
            positional(&sql.text),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, NULL) ON CONFLICT (a) DO UPDATE SET b = excluded.b WHERE a > ?"
        );
    }
}
