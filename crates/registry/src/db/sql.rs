//! Building parameterised SQL that runs unchanged on SQLite and
//! PostgreSQL: placeholders are numbered `$1, $2, …` in order of
//! appearance (both engines accept that form), and every value supplied by
//! a user travels as a bound argument, never as SQL text.

use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Arguments, Executor};

use super::Backend;
use crate::error::Result;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text, bound as `TEXT`.
    Text(String),
    /// An integer, bound as `BIGINT`.
    Int(i64),
    /// A double, bound as `DOUBLE PRECISION`.
    Float(f64),
    /// SQL NULL, typed so PostgreSQL can infer the parameter's type.
    NullText,
    /// SQL NULL of an integer column.
    NullInt,
    /// SQL NULL of a double column, written as a literal `NULL` rather than
    /// bound.
    NullFloat,
}

/// SQL text with its arguments.
#[derive(Debug, Default)]
pub struct Sql {
    pub(crate) text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// SQL starting with `text`, no arguments yet; `text` must not come from a
    /// user.
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_owned(), args: Vec::new() }
    }

    /// `INSERT INTO table (columns…) VALUES (…)` with every value bound.
    pub fn insert(table: &str, columns: &[&str], values: Vec<Arg>) -> Sql {
        Self::insert_rows(table, columns, vec![values])
    }

    /// One `INSERT` of several rows: `VALUES (…), (…), …`.
    pub fn insert_rows(table: &str, columns: &[&str], rows: Vec<Vec<Arg>>) -> Sql {
        let mut sql = Sql::new(&format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        sql.rows(rows);
        sql
    }

    /// Appends `(VALUES (…), (…), …)`, each row bound: what a row value
    /// is compared with, `(name, version) IN (VALUES …)` (SQLite takes no
    /// plain list of rows there).
    pub fn values(&mut self, rows: impl IntoIterator<Item = Vec<Arg>>) -> &mut Self {
        self.push("(VALUES ");
        self.rows(rows);
        self.push(")")
    }

    /// Appends `(…), (…), …`, each row bound.
    fn rows(&mut self, rows: impl IntoIterator<Item = Vec<Arg>>) -> &mut Self {
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.list(row);
        }
        self
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

    /// Appends SQL text as it is; values go through the `*_arg` methods, never
    /// here.
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

    /// Appends a placeholder bound to a text value.
    pub fn text_arg(&mut self, value: impl Into<String>) -> &mut Self {
        self.arg(Arg::Text(value.into()))
    }

    /// Appends a placeholder bound to an integer.
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

    /// Runs the statement on `executor` (the pool, or a transaction as
    /// `&mut *tx`) and returns every row.
    pub(crate) async fn fetch_all<'q, E>(&'q self, executor: E) -> Result<Vec<AnyRow>>
    where
        E: Executor<'q, Database = Any> + 'q,
    {
        Ok(self.query().fetch_all(executor).await?)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'q, E>(&'q self, executor: E) -> Result<Option<AnyRow>>
    where
        E: Executor<'q, Database = Any> + 'q,
    {
        Ok(self.query().fetch_optional(executor).await?)
    }

    /// The first row; no row is an error.
    pub(crate) async fn fetch_one<'q, E>(&'q self, executor: E) -> Result<AnyRow>
    where
        E: Executor<'q, Database = Any> + 'q,
    {
        Ok(self.query().fetch_one(executor).await?)
    }

    /// Runs a statement that returns no rows.
    pub(crate) async fn execute<'q, E>(&'q self, executor: E) -> Result<AnyQueryResult>
    where
        E: Executor<'q, Database = Any> + 'q,
    {
        Ok(self.query().execute(executor).await?)
    }

    fn query_with_text(&self, text: String) -> Query<'_, Any, AnyArguments> {
        #[cfg(test)]
        statements::count_one();
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

/// How many statements this thread has built, for tests that check a
/// page is read with a fixed number of queries.
#[cfg(test)]
pub(crate) mod statements {
    use std::cell::Cell;

    thread_local! {
        static BUILT: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn count_one() {
        BUILT.with(|built| built.set(built.get() + 1));
    }

    /// The statements built since the last call.
    pub(crate) fn take() -> usize {
        BUILT.with(|built| built.replace(0))
    }
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
