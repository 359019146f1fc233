//! The registry's audit trail: every stage and alias move with who made
//! it and why, which answers what MLflow cannot: which version held a
//! stage or an alias at any past moment ([`SqlStore::registry_state_at`]).

use std::collections::BTreeMap;

use sqlx::Row;

use crate::SqlStore;
use crate::db::{Arg, Sql, WriteTx, now_ms};
use crate::entities::RegistryEvent;
use crate::error::Result;
use crate::states::{EventKind, Stage, stored};

impl SqlStore {
    /// Stage and alias changes of a model, oldest first, optionally up to
    /// `until` (epoch ms).
    pub async fn registry_events(&self, name: &str, until: Option<i64>) -> Result<Vec<RegistryEvent>> {
        let mut sql = Sql::new("SELECT * FROM registry_events WHERE name = ");
        sql.text_arg(name);
        if let Some(t) = until {
            sql.push(" AND at <= ").int_arg(t);
        }
        sql.push(" ORDER BY at, event_id");
        let rows = sql.fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let from: Option<i64> = r.try_get("from_version")?;
                let to: Option<i64> = r.try_get("to_version")?;
                Ok(RegistryEvent {
                    at: r.try_get("at")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    subject: r.try_get("subject")?,
                    from_version: from.map(|v| v.to_string()),
                    to_version: to.map(|v| v.to_string()),
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Which versions held each stage and alias at moment `at`, replayed
    /// from the audit trail: `(stages, aliases)`, each a map to versions.
    pub async fn registry_state_at(
        &self,
        name: &str,
        at: i64,
    ) -> Result<(BTreeMap<String, Vec<String>>, BTreeMap<String, String>)> {
        let mut stages: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut aliases: BTreeMap<String, String> = BTreeMap::new();
        for event in self.registry_events(name, Some(at)).await? {
            match stored::<EventKind>("audit event kind", &event.kind)? {
                EventKind::Stage => {
                    let holders = stages.entry(event.subject.clone()).or_default();
                    if let Some(from) = &event.from_version {
                        holders.retain(|v| v != from);
                    }
                    if let Some(to) = event.to_version {
                        holders.push(to);
                    }
                }
                EventKind::Alias => match event.to_version {
                    Some(to) => {
                        aliases.insert(event.subject, to);
                    }
                    None => {
                        aliases.remove(&event.subject);
                    }
                },
            }
        }
        stages.retain(|_, v| !v.is_empty());
        Ok((stages, aliases))
    }
}

/// One move to record: a stage or an alias of model `name` left
/// version `from` and/or reached version `to`.
#[derive(Debug)]
pub(crate) struct Event<'a> {
    name: &'a str,
    kind: EventKind,
    /// The stage, or the alias.
    subject: &'a str,
    from: Option<i64>,
    to: Option<i64>,
}

impl<'a> Event<'a> {
    pub(crate) fn stage(name: &'a str, stage: Stage, from: Option<i64>, to: Option<i64>) -> Self {
        Event { name, kind: EventKind::Stage, subject: stage.into(), from, to }
    }

    pub(crate) fn alias(name: &'a str, alias: &'a str, from: Option<i64>, to: Option<i64>) -> Self {
        Event { name, kind: EventKind::Alias, subject: alias, from, to }
    }
}

/// Appends `event` to the trail, in the transaction that makes the move.
pub(crate) async fn record_event(
    tx: &mut WriteTx,
    event: Event<'_>,
    actor: &str,
    reason: &str,
) -> Result<()> {
    // Events are read back by (at, event_id): time-ordered ids keep two
    // changes of the same millisecond in the order they were made, which
    // a replay of the trail depends on (an alias moved 1 -> 2 -> 3).
    let values = vec![
        Arg::Text(uuid::Uuid::now_v7().simple().to_string()),
        Arg::Int(now_ms()),
        Arg::Text(event.name.into()),
        Arg::Text(event.kind.as_ref().into()),
        Arg::Text(event.subject.into()),
        event.from.map_or(Arg::NullInt, Arg::Int),
        event.to.map_or(Arg::NullInt, Arg::Int),
        Arg::Text(actor.into()),
        Arg::Text(reason.into()),
    ];
    let columns =
        ["event_id", "at", "name", "kind", "subject", "from_version", "to_version", "actor", "reason"];
    Sql::insert("registry_events", &columns, values).execute(&mut **tx).await?;
    Ok(())
}
