//! Tags (and params) as every entity keeps them: a `(owner…, key, value)`
//! table per entity, written by upsert and read back ordered by key.

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

/// Rows of `key` and `value` as tags.
pub(crate) fn tags_of(rows: &[AnyRow]) -> Result<Vec<Tag>> {
    rows.iter().map(|r| Ok(Tag { key: r.try_get("key")?, value: r.try_get("value")? })).collect()
}
