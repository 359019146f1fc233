//! The model registry: registered models with their versions
//! ([`versions`]), stages and aliases ([`aliases`]), every stage and alias
//! move recorded in the audit trail ([`crate::audit`]).

mod aliases;
mod versions;

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, now_ms};
use crate::entities::{Alias, ModelVersion, RegisteredModel, STAGES, Tag};
use crate::error::{ErrorCode, Result, StoreError};
use crate::filter::{self, Entity};
use crate::limits::{MAX_MODEL_TAG_VALUE_CHARS, check_tag};
use crate::search::{AttributeColumns, Page, parse_order_item, text_condition};
use crate::tags::{set_tag_in, tags_of};
use versions::Which;

/// A stage name in MLflow's spelling, accepting any letter case.
pub fn canonical_stage(stage: &str) -> Result<&'static str> {
    STAGES.iter().copied().find(|s| s.eq_ignore_ascii_case(stage)).ok_or_else(|| {
        StoreError::invalid(format!(
            "Invalid Model Version stage: {stage}. Value must be one of {}.",
            STAGES.join(", ")
        ))
    })
}

pub(crate) fn parse_version(version: &str) -> Result<i64> {
    version.trim().parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
        StoreError::invalid(format!("Model version must be a positive integer, got '{version}'"))
    })
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid(format!("Missing value for required parameter '{what}'.")));
    }
    Ok(())
}

impl SqlStore {
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        check_name("name", name)?;
        let now = now_ms();
        let mut tx = self.write().await?;
        let values =
            vec![Arg::Text(name.into()), Arg::Text(description.into()), Arg::Int(now), Arg::Int(now)];
        let inserted = Sql::insert(
            "registered_models",
            &["name", "description", "creation_timestamp", "last_updated_timestamp"],
            values,
        )
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            return Err(if err.code == ErrorCode::ResourceAlreadyExists {
                StoreError::exists(format!("Registered Model (name={name}) already exists."))
            } else {
                err
            });
        }
        for t in tags {
            check_tag("tag", t, MAX_MODEL_TAG_VALUE_CHARS)?;
            set_tag_in(&mut tx, "registered_model_tags", &[("name", Arg::Text(name.into()))], t).await?;
        }
        tx.commit().await?;
        self.get_registered_model(name).await
    }

    pub(crate) async fn require_registered_model(&self, name: &str) -> Result<AnyRow> {
        check_name("name", name)?;
        Sql::new("SELECT * FROM registered_models WHERE name = ")
            .text_arg(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Registered Model with name={name} not found")))
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let row = self.require_registered_model(name).await?;
        self.registered_model_from_row(&row).await
    }

    async fn registered_model_from_row(&self, row: &AnyRow) -> Result<RegisteredModel> {
        let name: String = row.try_get("name")?;
        let tags = Sql::new("SELECT key, value FROM registered_model_tags WHERE name = ")
            .text_arg(name.clone())
            .push(" ORDER BY key")
            .fetch_all(&self.db.pool)
            .await?;
        let aliases = self
            .aliases_of(&name)
            .await?
            .into_iter()
            .map(|(alias, version)| Alias { alias, version: version.to_string() })
            .collect();
        // One per stage, ordered by stage name.
        let latest: BTreeMap<String, ModelVersion> = self
            .versions_where(&name, Which::NewestPerStage)
            .await?
            .into_iter()
            .map(|v| (v.current_stage.clone(), v))
            .collect();
        Ok(RegisteredModel {
            creation_timestamp: row.try_get("creation_timestamp")?,
            last_updated_timestamp: row.try_get("last_updated_timestamp")?,
            description: row.try_get("description")?,
            latest_versions: latest.into_values().collect(),
            tags: tags_of(&tags)?,
            aliases,
            name,
        })
    }

    pub async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        check_name("new_name", new_name)?;
        self.require_registered_model(name).await?;
        let mut tx = self.write().await?;
        let taken = Sql::new("SELECT name FROM registered_models WHERE name = ")
            .text_arg(new_name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::exists(format!("Registered Model (name={new_name}) already exists.")));
        }
        for table in [
            "registered_models",
            "registered_model_tags",
            "model_versions",
            "model_version_tags",
            "registered_model_aliases",
            "registry_events",
        ] {
            Sql::new(&format!("UPDATE {table} SET name = "))
                .text_arg(new_name)
                .push(" WHERE name = ")
                .text_arg(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_registered_model(new_name).await
    }

    pub async fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        self.require_registered_model(name).await?;
        Sql::new("UPDATE registered_models SET description = ")
            .text_arg(description)
            .push(", last_updated_timestamp = ")
            .int_arg(now_ms())
            .push(" WHERE name = ")
            .text_arg(name)
            .execute(&self.db.pool)
            .await?;
        self.get_registered_model(name).await
    }

    /// Deletes a registered model with its versions, tags and aliases; its
    /// audit trail is kept.
    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.require_registered_model(name).await?;
        let mut tx = self.write().await?;
        for table in [
            "registered_model_tags",
            "model_version_tags",
            "registered_model_aliases",
            "model_versions",
            "registered_models",
        ] {
            Sql::new(&format!("DELETE FROM {table} WHERE name = ")).text_arg(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Registered models whose filter (`name`, `tags.KEY`) matches.
    pub async fn search_registered_models(
        &self,
        filter: Option<&str>,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<(Vec<RegisteredModel>, Option<String>)> {
        const ATTRIBUTES: AttributeColumns = AttributeColumns { columns: &[("name", "m.name", false)] };
        let page = Page::new(max_results, 100, page_token)?;
        let mut sql = Sql::new("SELECT m.* FROM registered_models m WHERE 1 = 1");
        for clause in filter::parse(filter.unwrap_or(""))? {
            sql.push(" AND ");
            match clause.entity {
                Entity::Tag => {
                    sql.push(
                        "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = m.name AND t.key = ",
                    )
                    .text_arg(clause.key.clone())
                    .push(" AND ");
                    text_condition(&mut sql, "t.value", &clause)?;
                    sql.push(")");
                }
                Entity::Attribute if ATTRIBUTES.lookup(&clause.key).is_some() => {
                    text_condition(&mut sql, "m.name", &clause)?;
                }
                _ => {
                    return Err(StoreError::invalid(format!(
                        "registered models can be filtered by name and tags.KEY, not '{}'",
                        clause.key
                    )));
                }
            }
        }
        let mut order = Vec::new();
        for item in order_by {
            let (key, descending) = parse_order_item(item)?;
            let column = match key.as_str() {
                "name" => "m.name",
                "timestamp" | "last_updated_timestamp" => "m.last_updated_timestamp",
                "creation_timestamp" => "m.creation_timestamp",
                other => {
                    return Err(StoreError::invalid(format!("cannot order registered models by '{other}'")));
                }
            };
            order.push(format!("{column} {}", if descending { "DESC" } else { "ASC" }));
        }
        order.push("m.name ASC".into());
        page.apply(sql.push(&format!(" ORDER BY {}", order.join(", "))));
        let rows = sql.fetch_all(&self.db.pool).await?;
        let (rows, next) = page.split(rows);
        let mut models = Vec::new();
        for row in rows.iter() {
            models.push(self.registered_model_from_row(row).await?);
        }
        Ok((models, next))
    }

    pub async fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<()> {
        check_tag("tag", tag, MAX_MODEL_TAG_VALUE_CHARS)?;
        self.require_registered_model(name).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "registered_model_tags", &[("name", Arg::Text(name.into()))], tag).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.require_registered_model(name).await?;
        Sql::new("DELETE FROM registered_model_tags WHERE name = ")
            .text_arg(name)
            .push(" AND key = ")
            .text_arg(key)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }
}
