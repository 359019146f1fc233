//! The model registry: registered models with their versions
//! ([`versions`]), stages and aliases ([`aliases`]), every stage and alias
//! move recorded in the audit trail ([`crate::store::audit`]).

mod aliases;
mod versions;

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, now_ms};
use crate::store::only;
use strum::VariantNames;

use crate::entities::{Alias, ModelVersion, RegisteredModel, Tag};
use crate::error::{ErrorCode, Result, StoreError};
use crate::limits::{MAX_MODEL_TAG_VALUE_CHARS, check_tag};
use crate::states::Stage;
use crate::store::search::{KeyValues, Kind, Request, Search, Searchable, attribute};
use crate::tags::{group_by, set_tag_in, tag_of};

/// A stage a request names, in any letter case, with MLflow's message
/// when it names none.
pub(crate) fn canonical_stage(stage: &str) -> Result<Stage> {
    stage.parse().map_err(|_| {
        StoreError::invalid(format!(
            "Invalid Model Version stage: {stage}. Value must be one of {}.",
            Stage::VARIANTS.join(", ")
        ))
    })
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid(format!("Missing value for required parameter '{what}'.")));
    }
    Ok(())
}

impl Searchable for RegisteredModel {
    const SEARCH: Search = Search {
        plural: "registered models",
        select: "SELECT m.* FROM registered_models m",
        attributes: &[attribute("name", "m.name", Kind::Text)],
        tags: KeyValues { table: "registered_model_tags", join: "x.name = m.name" },
        params: None,
        metrics: None,
        orderable: &[
            ("name", "m.name"),
            ("timestamp", "m.last_updated_timestamp"),
            ("last_updated_timestamp", "m.last_updated_timestamp"),
            ("creation_timestamp", "m.creation_timestamp"),
        ],
        default_order: "m.name ASC",
        page_size: 100,
    };

    async fn load_page(store: &SqlStore, rows: Vec<AnyRow>) -> Result<Vec<RegisteredModel>> {
        store.registered_models_from_rows(rows).await
    }
}

impl SqlStore {
    /// Registers a model called `name` with no versions yet; a name in use is
    /// `RESOURCE_ALREADY_EXISTS`.
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

    /// The registered model called `name`, with its latest versions, tags and
    /// aliases.
    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let row = self.require_registered_model(name).await?;
        only(self.registered_models_from_rows(vec![row]).await?, "a registered model")
    }

    /// Registered models from their rows, with every tag, alias and
    /// latest version read in one query each.
    async fn registered_models_from_rows(&self, rows: Vec<AnyRow>) -> Result<Vec<RegisteredModel>> {
        let names = rows.iter().map(|row| row.try_get("name")).collect::<Result<Vec<String>, _>>()?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let of_models = |select: &str, order: &str| {
            let mut sql = Sql::new(select);
            sql.list(names.iter().cloned().map(Arg::Text)).push(order);
            sql
        };
        let owner = |r: &AnyRow| Ok(r.try_get::<String, _>("name")?);
        let tags =
            of_models("SELECT name, key, value FROM registered_model_tags WHERE name IN ", " ORDER BY key");
        let mut tags = group_by(&self.fetch_all(&tags).await?, owner, tag_of)?;
        let aliases = of_models(
            "SELECT name, alias, version FROM registered_model_aliases WHERE name IN ",
            " ORDER BY alias",
        );
        let alias = |r: &AnyRow| {
            let version: i64 = r.try_get("version")?;
            Ok(Alias { alias: r.try_get("alias")?, version: version.to_string() })
        };
        let mut aliases = group_by(&self.fetch_all(&aliases).await?, owner, alias)?;
        // The newest version in each stage, without reading every version.
        let latest = of_models(
            "SELECT * FROM model_versions WHERE (name, version) IN \
             (SELECT name, MAX(version) FROM model_versions WHERE name IN ",
            " GROUP BY name, current_stage) ORDER BY version",
        );
        let mut latest_versions: HashMap<String, BTreeMap<String, ModelVersion>> = HashMap::new();
        for version in self.model_versions_from_rows(self.fetch_all(&latest).await?).await? {
            // One per stage, ordered by stage name.
            latest_versions
                .entry(version.name.clone())
                .or_default()
                .insert(version.current_stage.clone(), version);
        }
        rows.iter()
            .zip(names)
            .map(|(row, name)| {
                Ok(RegisteredModel {
                    creation_timestamp: row.try_get("creation_timestamp")?,
                    last_updated_timestamp: row.try_get("last_updated_timestamp")?,
                    description: row.try_get("description")?,
                    latest_versions: latest_versions
                        .remove(&name)
                        .unwrap_or_default()
                        .into_values()
                        .collect(),
                    tags: tags.remove(&name).unwrap_or_default(),
                    aliases: aliases.remove(&name).unwrap_or_default(),
                    name,
                })
            })
            .collect()
    }

    /// Renames a registered model, and with it its versions, tags, aliases and
    /// audit trail; a name in use is `RESOURCE_ALREADY_EXISTS`.
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

    /// Replaces a registered model's description and returns the model.
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
        let request = Request { filter, order_by, max_results, page_token };
        self.search::<RegisteredModel>(request, |_| Ok(())).await
    }

    /// Sets a tag on a registered model, replacing its value.
    pub async fn set_registered_model_tag(&self, name: &str, tag: &Tag) -> Result<()> {
        check_tag("tag", tag, MAX_MODEL_TAG_VALUE_CHARS)?;
        self.require_registered_model(name).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "registered_model_tags", &[("name", Arg::Text(name.into()))], tag).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a tag from a registered model; a tag that is not set is no
    /// error.
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
