//! One search engine for MLflow's five searches (experiments, runs,
//! logged models, registered models, model versions).
//!
//! Each entity describes itself once ([`Searchable`]): its table and
//! alias, the attributes a filter may compare with their types, its tag
//! table (and for runs, params and latest metrics), the attributes it may
//! be ordered by, its default order and page size, and a loader that reads
//! a whole page's tags, aliases or versions with one query per kind. The
//! engine turns a parsed filter (see [`crate::filter`]) into parameterised
//! conditions from that description, so every search accepts the same
//! comparators on the same types and refuses the rest with
//! `INVALID_PARAMETER_VALUE` naming the field, never with a database
//! error.

mod page;

use sqlx::any::AnyRow;

pub(crate) use page::Page;

use crate::SqlStore;
use crate::db::{Arg, Sql};
use crate::entities::ViewType;
use crate::error::{Result, StoreError};
use crate::filter::{self, Clause, Comparator, Entity, Value};
use crate::states::Lifecycle;

/// What an attribute holds, which decides the comparators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text: `=`, `!=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`.
    Text,
    /// A number (times are epoch milliseconds): `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Number,
    /// A version number, which MLflow also accepts quoted (`'3'`).
    Version,
}

/// An attribute a filter may name, and the column that holds it.
#[derive(Debug)]
pub(crate) struct Attribute {
    pub(crate) name: &'static str,
    pub(crate) column: &'static str,
    pub(crate) kind: Kind,
}

/// Shorthand for the entities' attribute tables.
pub(crate) const fn attribute(name: &'static str, column: &'static str, kind: Kind) -> Attribute {
    Attribute { name, column, kind }
}

/// A `(owner…, key, value)` table of an entity (its tags, a run's params
/// or latest metrics) and how its rows, aliased `x`, join the entity's.
#[derive(Debug)]
pub(crate) struct KeyValues {
    pub(crate) table: &'static str,
    pub(crate) join: &'static str,
}

/// How one entity is searched.
#[derive(Debug)]
pub(crate) struct Search {
    /// The entity in messages: "experiments", "model versions".
    pub(crate) plural: &'static str,
    /// `SELECT alias.* FROM table alias`, before any condition.
    pub(crate) select: &'static str,
    /// The attributes a filter may compare (`attributes.NAME` or `NAME`).
    pub(crate) attributes: &'static [Attribute],
    /// `tags.KEY`.
    pub(crate) tags: KeyValues,
    /// `params.KEY` (runs only).
    pub(crate) params: Option<KeyValues>,
    /// `metrics.KEY`, compared with the latest value (runs only).
    pub(crate) metrics: Option<KeyValues>,
    /// What `order_by` may name, and the column each sorts by.
    pub(crate) orderable: &'static [(&'static str, &'static str)],
    /// Sorts after the requested order (ties, or the whole order).
    pub(crate) default_order: &'static str,
    /// Results per page when the request does not say.
    pub(crate) page_size: i64,
}

/// An entity that one search engine reads a page of.
pub(crate) trait Searchable: Sized {
    /// How the entity is searched.
    const SEARCH: Search;

    /// The page's entities from its rows, reading their tags, aliases or
    /// versions with one query per kind for the whole page.
    fn load_page(store: &SqlStore, rows: Vec<AnyRow>) -> impl Future<Output = Result<Vec<Self>>> + Send;
}

/// A search request as MLflow's endpoints take it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Request<'a> {
    pub(crate) filter: Option<&'a str>,
    pub(crate) order_by: &'a [String],
    pub(crate) max_results: Option<i64>,
    pub(crate) page_token: Option<&'a str>,
}

impl SqlStore {
    /// One page of `E` matching the request, within `scope` (conditions
    /// the endpoint itself adds, each appended as ` AND …`).
    pub(crate) async fn search<E: Searchable>(
        &self,
        request: Request<'_>,
        scope: impl FnOnce(&mut Sql) -> Result<()>,
    ) -> Result<(Vec<E>, Option<String>)> {
        let search = &E::SEARCH;
        let page = Page::new(request.max_results, search.page_size, request.page_token)?;
        let mut sql = Sql::new(search.select);
        sql.push(" WHERE 1 = 1");
        scope(&mut sql)?;
        search.filter(&mut sql, &filter::parse(request.filter.unwrap_or(""))?)?;
        let order = search.order(request.order_by)?;
        page.apply(sql.push(&order));
        let (rows, next) = page.split(self.fetch_all(&sql).await?);
        Ok((E::load_page(self, rows).await?, next))
    }
}

impl Search {
    /// The attribute a filter or an order names, with or without its
    /// `attributes.` prefix.
    pub(crate) fn attribute(&self, name: &str) -> Result<&Attribute> {
        self.attributes.iter().find(|a| a.name == name).ok_or_else(|| {
            StoreError::invalid(format!(
                "unknown attribute '{name}' of {}; searchable: {}",
                self.plural,
                self.searchable()
            ))
        })
    }

    fn searchable(&self) -> String {
        let mut names: Vec<String> = self.attributes.iter().map(|a| a.name.to_owned()).collect();
        names.extend(self.metrics.iter().map(|_| "metrics.KEY".to_owned()));
        names.extend(self.params.iter().map(|_| "params.KEY".to_owned()));
        names.push("tags.KEY".into());
        names.join(", ")
    }

    /// Appends ` AND <condition>` for each clause.
    pub(crate) fn filter(&self, sql: &mut Sql, clauses: &[Clause]) -> Result<()> {
        for clause in clauses {
            sql.push(" AND ");
            match clause.entity {
                Entity::Attribute => {
                    let attribute = self.attribute(&clause.key)?;
                    let label = format!("attributes.{}", clause.key);
                    match attribute.kind {
                        Kind::Text => text_condition(sql, attribute.column, clause, &label)?,
                        Kind::Number | Kind::Version => {
                            number_condition(sql, attribute.column, clause, &label, attribute.kind)?;
                        }
                    }
                }
                Entity::Tag => key_value_condition(sql, &self.tags, clause, "tags")?,
                Entity::Param => match &self.params {
                    Some(params) => key_value_condition(sql, params, clause, "params")?,
                    None => return Err(self.unsupported("params", clause)),
                },
                Entity::Metric => match &self.metrics {
                    Some(metrics) => {
                        sql.push(&format!(
                            "EXISTS (SELECT 1 FROM {} m WHERE {} AND m.key = ",
                            metrics.table, metrics.join
                        ))
                        .text_arg(clause.key.clone())
                        .push(" AND ");
                        metric_condition(sql, "m.value", clause)?;
                        sql.push(")");
                    }
                    None => return Err(self.unsupported("metrics", clause)),
                },
            }
        }
        Ok(())
    }

    fn unsupported(&self, prefix: &str, clause: &Clause) -> StoreError {
        StoreError::invalid(format!(
            "{} can be filtered by {}, not {prefix}.{}",
            self.plural,
            self.searchable(),
            clause.key
        ))
    }

    /// ` ORDER BY …`: the requested order (`name DESC`, …), then the
    /// default order.
    pub(crate) fn order(&self, order_by: &[String]) -> Result<String> {
        let mut terms = Vec::new();
        for item in order_by {
            let (key, descending) = parse_order_item(item)?;
            let name = strip_attribute_prefix(&key);
            let Some((_, column)) = self.orderable.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = self.orderable.iter().map(|(n, _)| *n).collect();
                return Err(StoreError::invalid(format!(
                    "cannot order {} by '{name}'; use one of {}",
                    self.plural,
                    names.join(", ")
                )));
            };
            terms.push(format!("{column} {}", if descending { "DESC" } else { "ASC" }));
        }
        terms.push(self.default_order.to_owned());
        Ok(format!(" ORDER BY {}", terms.join(", ")))
    }
}

/// `name` without `attributes.` (or `attribute.`, `attr.`).
fn strip_attribute_prefix(name: &str) -> &str {
    match name.split_once('.') {
        Some(("attribute" | "attributes" | "attr", rest)) => rest,
        _ => name,
    }
}

/// `EXISTS (… key = KEY AND value <op> …)` over a text key/value table.
fn key_value_condition(sql: &mut Sql, table: &KeyValues, clause: &Clause, prefix: &str) -> Result<()> {
    let label = format!("{prefix}.{}", clause.key);
    if clause.comparator.is_ordering() {
        return Err(holds_text(&label));
    }
    sql.push(&format!("EXISTS (SELECT 1 FROM {} x WHERE {} AND x.key = ", table.table, table.join))
        .text_arg(clause.key.clone())
        .push(" AND ");
    text_condition(sql, "x.value", clause, &label)?;
    sql.push(")");
    Ok(())
}

fn holds_text(label: &str) -> StoreError {
    StoreError::invalid(format!("{label} holds text: use =, !=, LIKE, ILIKE, IN or NOT IN"))
}

/// Whether `comparator` compares numbers.
fn is_numeric(comparator: Comparator) -> bool {
    !matches!(comparator, Comparator::Like | Comparator::ILike | Comparator::In | Comparator::NotIn)
}

/// `column <op> value` for a column holding the clause's metric value.
pub(crate) fn metric_condition(sql: &mut Sql, column: &str, clause: &Clause) -> Result<()> {
    let Value::Number(n) = clause.value else {
        return Err(StoreError::invalid(format!(
            "metrics.{} must be compared with a number, e.g. metrics.{} > 0.9",
            clause.key, clause.key
        )));
    };
    if !is_numeric(clause.comparator) {
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
fn text_condition(sql: &mut Sql, column: &str, clause: &Clause, label: &str) -> Result<()> {
    let text = |v: &Value| match v {
        Value::Text(s) => Ok(s.clone()),
        Value::Number(_) | Value::List(_) => {
            Err(StoreError::invalid(format!("{label} holds text: quote the value, e.g. {label} = 'value'")))
        }
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
        Comparator::Lt | Comparator::Le | Comparator::Gt | Comparator::Ge => return Err(holds_text(label)),
    }
    Ok(())
}

/// `column <op> value` for a numeric column.
fn number_condition(sql: &mut Sql, column: &str, clause: &Clause, label: &str, kind: Kind) -> Result<()> {
    if !is_numeric(clause.comparator) {
        return Err(StoreError::invalid(format!(
            "{label} is a number: it takes =, !=, <, <=, > or >=, not {}",
            clause.comparator.sql()
        )));
    }
    let number = match (&clause.value, kind) {
        (Value::Number(n), _) => *n as i64,
        (Value::Text(t), Kind::Version) => crate::limits::parse_version(t)?,
        _ => {
            return Err(StoreError::invalid(format!(
                "{label} is a number (epoch milliseconds for times): compare it with a number"
            )));
        }
    };
    sql.push(&format!("{column} {} ", clause.comparator.sql())).int_arg(number);
    Ok(())
}

/// ` AND column = 'active'` (or `'deleted'`) for a view of active or
/// deleted rows; nothing for all.
pub(crate) fn lifecycle_condition(sql: &mut Sql, column: &str, view: ViewType) {
    match view {
        ViewType::ActiveOnly => sql.push(&format!(" AND {column} = '{}'", Lifecycle::Active.as_ref())),
        ViewType::DeletedOnly => sql.push(&format!(" AND {column} = '{}'", Lifecycle::Deleted.as_ref())),
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
    Ok((key.trim_matches('`').to_owned(), direction))
}

#[cfg(test)]
mod tests {
    use crate::db::statements;
    use crate::entities::{Param, Tag, ViewType};

    fn tag(key: &str) -> Tag {
        Tag { key: key.into(), value: "v".into() }
    }

    /// A page of experiments, logged models, registered models or model
    /// versions reads its tags, params, aliases and latest versions with
    /// one query per kind, however many rows it has.
    #[tokio::test]
    async fn a_page_reads_what_its_rows_hold_in_one_query_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite:///{}", dir.path().join("t.db").display());
        let store = crate::SqlStore::connect(&uri, "a:").await.unwrap();
        for i in 0..4 {
            let name = format!("m{i}");
            store.create_experiment(&name, None, &[tag("k")]).await.unwrap();
            let params = [Param { key: "p".into(), value: "1".into() }];
            store.create_logged_model("0", Some(&name), None, None, &params, &[tag("k")]).await.unwrap();
            store.create_registered_model(&name, "", &[tag("k")]).await.unwrap();
            for _ in 0..2 {
                store
                    .create_model_version(&name, "s3://b/m", None, None, &[tag("k")], None, "", "")
                    .await
                    .unwrap();
            }
            store.set_alias(&name, "champion", "1", "ana", "").await.unwrap();
            store.transition_stage(&name, "2", "Staging", false, "ana", "").await.unwrap();
        }
        statements::take();
        let (experiments, _) = store.search_experiments(ViewType::All, None, None, &[], None).await.unwrap();
        assert_eq!((experiments.len(), statements::take()), (5, 2), "experiments: the page, its tags");
        let (models, _) = store.search_logged_models(&["0".into()], None, None, None).await.unwrap();
        assert_eq!((models.len(), statements::take()), (4, 3), "logged models: the page, tags, params");
        let (models, _) = store.search_registered_models(None, None, &[], None).await.unwrap();
        assert_eq!(models[0].latest_versions.len(), 2);
        assert_eq!(models[0].latest_versions[0].aliases, ["champion"]);
        assert_eq!(
            (models.len(), statements::take()),
            (4, 6),
            "registered models: the page, tags, aliases, latest versions, their tags and aliases"
        );
        let (versions, _) = store.search_model_versions(None, None, None).await.unwrap();
        assert_eq!((versions.len(), statements::take()), (8, 3), "model versions: the page, tags, aliases");
    }
}
