//! Pages of a search: `limit` rows from `offset`, and MLflow's page
//! tokens (base64 of `{"offset": N}`).

use base64::Engine;

use crate::db::Sql;
use crate::error::{Result, StoreError};

/// The most results one search page may ask for.
const MAX_RESULTS_LIMIT: i64 = 50_000;

/// One page of a search: `limit` rows from `offset`. The query asks for one
/// row more, whose presence means there is a next page; page tokens are
/// base64 of `{"offset": N}`, as MLflow's.
pub(crate) struct Page {
    limit: i64,
    offset: i64,
}

impl Page {
    pub(crate) fn new(max_results: Option<i64>, default: i64, token: Option<&str>) -> Result<Page> {
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

    /// Whether `rows` read with [`Page::apply`] fill the page and tell
    /// there is more.
    pub(crate) fn is_filled_by(&self, rows: usize) -> bool {
        rows as i64 > self.limit
    }

    /// Where the page starts in the whole result.
    pub(crate) fn offset(&self) -> i64 {
        self.offset
    }

    /// Appends ` LIMIT … OFFSET …` to the query of a second part of the
    /// result, which starts after `before` rows of the first; `found` rows
    /// of this page came from the first part.
    pub(crate) fn apply_after<'s>(&self, sql: &'s mut Sql, before: i64, found: usize) -> &'s mut Sql {
        let wanted = self.limit + 1 - found as i64;
        let offset = (self.offset - before).max(0);
        sql.push(" LIMIT ").int_arg(wanted).push(" OFFSET ").int_arg(offset)
    }

    /// Keeps this page's rows; returns them with the next page's token.
    pub(crate) fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = format!("{{\"offset\": {}}}", self.offset + self.limit);
        (rows, more.then(|| base64::engine::general_purpose::STANDARD.encode(next)))
    }
}
