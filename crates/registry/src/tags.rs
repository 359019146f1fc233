//! Tags (and params) as every entity keeps them: a `(owner…, key, value)`
//! table per entity, written by upsert and read back ordered by key.

use std::collections::HashMap;
use std::hash::Hash;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Arg, Sql, WriteTx};
use crate::entities::Tag;
use crate::error::Result;

/// Sets `tag` on what `owner` identifies, in a `(owner…, key, value)` table.
pub(crate) async fn set_tag_in(
    tx: &mut WriteTx,
    table: &str,
    owner: &[(&str, Arg)],
    tag: &Tag,
) -> Result<()> {
    Sql::upsert_key_value(table, owner, &tag.key, &tag.value).execute(&mut **tx).await?;
    Ok(())
}

/// A row's `key` and `value` as a tag.
pub(crate) fn tag_of(row: &AnyRow) -> Result<Tag> {
    Ok(Tag { key: row.try_get("key")?, value: row.try_get("value")? })
}

/// `rows` grouped by their owner, each group in row order: what one query
/// read for a whole page (its tags, params, aliases or versions), handed
/// out to each row of the page.
pub(crate) fn group_by<K: Eq + Hash, T>(
    rows: &[AnyRow],
    owner: impl Fn(&AnyRow) -> Result<K>,
    item: impl Fn(&AnyRow) -> Result<T>,
) -> Result<HashMap<K, Vec<T>>> {
    let mut groups: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(owner(row)?).or_default().push(item(row)?);
    }
    Ok(groups)
}
