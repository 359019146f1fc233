//! Models in the store: MLflow 3's logged models (what `log_model`
//! creates) and the model registry (registered models, versions, stages,
//! aliases, tags), with an audit trail of every stage and alias change.
//!
//! The audit trail answers what MLflow cannot: which version held a stage
//! or an alias at any past moment ([`SqlStore::registry_state_at`]).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::entities::*;
use crate::error::{ErrorCode, Result, StoreError};
use crate::filter::{self, Entity};
use crate::sql::{Arg, AttributeColumns, Page, Sql, text_condition};
use crate::store::{
    MAX_MODEL_TAG_VALUE_CHARS, SqlStore, WriteTx, check_key, check_tag, now_ms, parse_experiment_id,
    set_tag_in,
};

/// Logged model statuses.
pub const LOGGED_MODEL_STATUSES: [&str; 3] =
    ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

/// A stage name in MLflow's spelling, accepting any letter case.
pub fn canonical_stage(stage: &str) -> Result<&'static str> {
    STAGES.iter().copied().find(|s| s.eq_ignore_ascii_case(stage)).ok_or_else(|| {
        StoreError::invalid(format!(
            "Invalid Model Version stage: {stage}. Value must be one of {}.",
            STAGES.join(", ")
        ))
    })
}

fn parse_version(version: &str) -> Result<i64> {
    version.trim().parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
        StoreError::invalid(format!("Model version must be a positive integer, got '{version}'"))
    })
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid(format!("Missing value for required parameter '{what}'.")));
    }
    Ok(())
}

fn tags_of(rows: Vec<AnyRow>) -> Result<Vec<Tag>> {
    rows.iter().map(|r| Ok(Tag { key: r.try_get("key")?, value: r.try_get("value")? })).collect()
}

/// Alias names that mean a version number or "latest" cannot be aliases.
fn check_alias(alias: &str) -> Result<()> {
    let reserved = alias.eq_ignore_ascii_case("latest")
        || alias.trim_start_matches(['v', 'V']).parse::<i64>().is_ok()
        || alias.is_empty()
        || alias.chars().count() > 255;
    if reserved {
        return Err(StoreError::invalid(format!(
            "Invalid alias '{alias}': aliases are 1 to 255 characters and cannot be 'latest' or a version like 'v3'"
        )));
    }
    Ok(())
}

impl SqlStore {
    // ----- logged models ---------------------------------------------

    pub async fn create_logged_model(
        &self,
        experiment_id: &str,
        name: Option<&str>,
        source_run_id: Option<&str>,
        model_type: Option<&str>,
        params: &[Param],
        tags: &[Tag],
    ) -> Result<LoggedModel> {
        let experiment = self.get_experiment(experiment_id).await?;
        let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let name = name.filter(|n| !n.is_empty()).unwrap_or("model").to_string();
        let artifact_location = format!("{}/models/{model_id}/artifacts", experiment.artifact_location);
        let now = now_ms();
        let mut tx = self.write().await?;
        let values = vec![
            Arg::Text(model_id.clone()),
            Arg::Int(parse_experiment_id(experiment_id)?),
            Arg::Text(name),
            Arg::Text(artifact_location),
            Arg::Text("LOGGED_MODEL_PENDING".into()),
            source_run_id.map_or(Arg::NullText, |r| Arg::Text(r.into())),
            model_type.map_or(Arg::NullText, |t| Arg::Text(t.into())),
            Arg::Int(now),
            Arg::Int(now),
            Arg::Text(ACTIVE.into()),
        ];
        let columns = [
            "model_id",
            "experiment_id",
            "name",
            "artifact_location",
            "status",
            "source_run_id",
            "model_type",
            "creation_timestamp_ms",
            "last_updated_timestamp_ms",
            "lifecycle_stage",
        ];
        Sql::insert("logged_models", &columns, values).query().execute(&mut *tx).await?;
        for p in params {
            let owner = [("model_id", Arg::Text(model_id.clone()))];
            Sql::upsert_key_value("logged_model_params", &owner, &p.key, &p.value)
                .query()
                .execute(&mut *tx)
                .await?;
        }
        for t in tags {
            set_tag_in(&mut tx, "logged_model_tags", &[("model_id", Arg::Text(model_id.clone()))], t).await?;
        }
        tx.commit().await?;
        self.get_logged_model(&model_id).await
    }

    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let row = Sql::new("SELECT * FROM logged_models WHERE model_id = ")
            .text_arg(model_id)
            .query()
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Logged model with ID '{model_id}' not found.")))?;
        self.logged_model_from_row(&row).await
    }

    async fn logged_model_from_row(&self, row: &AnyRow) -> Result<LoggedModel> {
        let model_id: String = row.try_get("model_id")?;
        let experiment_id: i64 = row.try_get("experiment_id")?;
        let tags = Sql::new("SELECT key, value FROM logged_model_tags WHERE model_id = ")
            .text_arg(model_id.clone())
            .push(" ORDER BY key")
            .query()
            .fetch_all(&self.pool)
            .await?;
        let params = Sql::new("SELECT key, value FROM logged_model_params WHERE model_id = ")
            .text_arg(model_id.clone())
            .push(" ORDER BY key")
            .query()
            .fetch_all(&self.pool)
            .await?;
        let params = tags_of(params)?.into_iter().map(|t| Param { key: t.key, value: t.value }).collect();
        Ok(LoggedModel {
            info: LoggedModelInfo {
                model_id,
                experiment_id: experiment_id.to_string(),
                name: row.try_get("name")?,
                artifact_uri: row.try_get("artifact_location")?,
                status: row.try_get("status")?,
                source_run_id: row.try_get("source_run_id")?,
                model_type: row.try_get("model_type")?,
                creation_timestamp_ms: row.try_get("creation_timestamp_ms")?,
                last_updated_timestamp_ms: row.try_get("last_updated_timestamp_ms")?,
                tags: tags_of(tags)?,
            },
            data: LoggedModelData { params, metrics: Vec::new() },
        })
    }

    pub async fn finalize_logged_model(&self, model_id: &str, status: &str) -> Result<LoggedModel> {
        if !LOGGED_MODEL_STATUSES.contains(&status) {
            return Err(StoreError::invalid(format!(
                "Invalid logged model status '{status}'; expected one of {}",
                LOGGED_MODEL_STATUSES.join(", ")
            )));
        }
        self.get_logged_model(model_id).await?;
        Sql::new("UPDATE logged_models SET status = ")
            .text_arg(status)
            .push(", last_updated_timestamp_ms = ")
            .int_arg(now_ms())
            .push(" WHERE model_id = ")
            .text_arg(model_id)
            .query()
            .execute(&self.pool)
            .await?;
        self.get_logged_model(model_id).await
    }

    pub async fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
        self.get_logged_model(model_id).await?;
        let mut tx = self.write().await?;
        for t in tags {
            check_key("tag", &t.key)?;
            set_tag_in(&mut tx, "logged_model_tags", &[("model_id", Arg::Text(model_id.into()))], t).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.get_logged_model(model_id).await?;
        Sql::new("UPDATE logged_models SET lifecycle_stage = 'deleted' WHERE model_id = ")
            .text_arg(model_id)
            .query()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Logged models of the given experiments; the filter takes `name`,
    /// `model_id`, `status`, `source_run_id` and `tags.KEY`.
    pub async fn search_logged_models(
        &self,
        experiment_ids: &[String],
        filter: Option<&str>,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<(Vec<LoggedModel>, Option<String>)> {
        const ATTRIBUTES: AttributeColumns = AttributeColumns {
            columns: &[
                ("name", "l.name", false),
                ("model_id", "l.model_id", false),
                ("status", "l.status", false),
                ("source_run_id", "l.source_run_id", false),
            ],
        };
        let page = Page::new(max_results, 100, page_token)?;
        let mut ids = Vec::new();
        for id in experiment_ids {
            ids.push(Arg::Int(parse_experiment_id(id)?));
        }
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let mut sql = Sql::new(
            "SELECT l.* FROM logged_models l WHERE l.lifecycle_stage = 'active' AND l.experiment_id IN ",
        );
        sql.list(ids);
        for clause in filter::parse(filter.unwrap_or(""))? {
            sql.push(" AND ");
            match clause.entity {
                Entity::Tag => {
                    sql.push("EXISTS (SELECT 1 FROM logged_model_tags t WHERE t.model_id = l.model_id AND t.key = ")
                        .text_arg(clause.key.clone())
                        .push(" AND ");
                    text_condition(&mut sql, "t.value", &clause)?;
                    sql.push(")");
                }
                Entity::Attribute => {
                    let (column, _) = ATTRIBUTES.lookup(&clause.key).ok_or_else(|| {
                        StoreError::invalid(format!(
                            "unknown logged model attribute '{}'; searchable: {}, tags.KEY",
                            clause.key,
                            ATTRIBUTES.names()
                        ))
                    })?;
                    text_condition(&mut sql, column, &clause)?;
                }
                _ => {
                    return Err(StoreError::invalid(
                        "logged models can be filtered by attributes and tags.KEY",
                    ));
                }
            }
        }
        sql.push(" ORDER BY l.creation_timestamp_ms DESC, l.model_id").page(&page);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let (rows, next) = page.split(rows);
        let mut models = Vec::new();
        for row in rows.iter() {
            models.push(self.logged_model_from_row(row).await?);
        }
        Ok((models, next))
    }

    /// Records that a run produced logged models (`runs/outputs`).
    pub async fn log_outputs(&self, run_id: &str, models: &[(String, i64)]) -> Result<()> {
        self.get_run(run_id).await?;
        let mut tx = self.write().await?;
        for (model_id, step) in models {
            let values = vec![Arg::Text(run_id.into()), Arg::Text(model_id.clone()), Arg::Int(*step)];
            Sql::insert("run_outputs", &["run_id", "model_id", "step"], values)
                .push(" ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step")
                .query()
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ----- registered models -----------------------------------------

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
        .query()
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            let err = StoreError::from(e);
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

    async fn require_registered_model(&self, name: &str) -> Result<AnyRow> {
        check_name("name", name)?;
        Sql::new("SELECT * FROM registered_models WHERE name = ")
            .text_arg(name)
            .query()
            .fetch_optional(&self.pool)
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
            .query()
            .fetch_all(&self.pool)
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
            tags: tags_of(tags)?,
            aliases,
            name,
        })
    }

    async fn aliases_of(&self, name: &str) -> Result<Vec<(String, i64)>> {
        let rows = Sql::new("SELECT alias, version FROM registered_model_aliases WHERE name = ")
            .text_arg(name)
            .push(" ORDER BY alias")
            .query()
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("alias")?, r.try_get("version")?))).collect()
    }

    pub async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        check_name("new_name", new_name)?;
        self.require_registered_model(name).await?;
        let mut tx = self.write().await?;
        let taken = Sql::new("SELECT name FROM registered_models WHERE name = ")
            .text_arg(new_name)
            .query()
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
                .query()
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
            .query()
            .execute(&self.pool)
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
            Sql::new(&format!("DELETE FROM {table} WHERE name = "))
                .text_arg(name)
                .query()
                .execute(&mut *tx)
                .await?;
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
            let (key, descending) = crate::store::parse_order_item(item)?;
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
        sql.push(&format!(" ORDER BY {}", order.join(", "))).page(&page);
        let rows = sql.query().fetch_all(&self.pool).await?;
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
            .query()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- model versions --------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        model_id: Option<&str>,
        tags: &[Tag],
        run_link: Option<&str>,
        description: &str,
        user_id: &str,
    ) -> Result<ModelVersion> {
        check_name("source", source)?;
        self.require_registered_model(name).await?;
        if let Some(model_id) = model_id.filter(|m| !m.is_empty()) {
            self.get_logged_model(model_id).await?;
        }
        for _ in 0..5 {
            let mut tx = self.write().await?;
            let row =
                Sql::new("SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE name = ")
                    .text_arg(name)
                    .query()
                    .fetch_one(&mut *tx)
                    .await?;
            let version: i64 = row.try_get("next")?;
            let now = now_ms();
            let values = vec![
                Arg::Text(name.into()),
                Arg::Int(version),
                Arg::Int(now),
                Arg::Int(now),
                Arg::Text(description.into()),
                Arg::Text(user_id.into()),
                Arg::Text("None".into()),
                Arg::Text(source.into()),
                run_id.filter(|r| !r.is_empty()).map_or(Arg::NullText, |r| Arg::Text(r.into())),
                run_link.filter(|r| !r.is_empty()).map_or(Arg::NullText, |r| Arg::Text(r.into())),
                model_id.filter(|m| !m.is_empty()).map_or(Arg::NullText, |m| Arg::Text(m.into())),
                Arg::Text("READY".into()),
            ];
            let columns = [
                "name",
                "version",
                "creation_timestamp",
                "last_updated_timestamp",
                "description",
                "user_id",
                "current_stage",
                "source",
                "run_id",
                "run_link",
                "model_id",
                "status",
            ];
            match Sql::insert("model_versions", &columns, values).query().execute(&mut *tx).await {
                Ok(_) => {}
                Err(e) => {
                    let err = StoreError::from(e);
                    if err.code == ErrorCode::ResourceAlreadyExists {
                        continue;
                    }
                    return Err(err);
                }
            }
            for t in tags {
                check_key("tag", &t.key)?;
                set_tag_in(&mut tx, "model_version_tags", &version_owner(name, version), t).await?;
            }
            Sql::new("UPDATE registered_models SET last_updated_timestamp = ")
                .int_arg(now)
                .push(" WHERE name = ")
                .text_arg(name)
                .query()
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return self.get_model_version(name, &version.to_string()).await;
        }
        Err(StoreError::internal("could not allocate a model version under concurrent registration"))
    }

    async fn versions_where(&self, name: &str, which: Which) -> Result<Vec<ModelVersion>> {
        let mut sql = Sql::new("SELECT * FROM model_versions WHERE name = ");
        sql.text_arg(name);
        match which {
            Which::Version(v) => sql.push(" AND version = ").int_arg(v),
            Which::NewestPerStage => sql
                .push(" AND version IN (SELECT MAX(version) FROM model_versions WHERE name = ")
                .text_arg(name)
                .push(" GROUP BY current_stage)"),
        };
        sql.push(" ORDER BY version");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.model_version_from_row(row).await?);
        }
        Ok(out)
    }

    async fn model_version_from_row(&self, row: &AnyRow) -> Result<ModelVersion> {
        let name: String = row.try_get("name")?;
        let version: i64 = row.try_get("version")?;
        let tags = Sql::new("SELECT key, value FROM model_version_tags WHERE name = ")
            .text_arg(name.clone())
            .push(" AND version = ")
            .int_arg(version)
            .push(" ORDER BY key")
            .query()
            .fetch_all(&self.pool)
            .await?;
        let aliases = self
            .aliases_of(&name)
            .await?
            .into_iter()
            .filter(|(_, v)| *v == version)
            .map(|(a, _)| a)
            .collect();
        Ok(ModelVersion {
            version: version.to_string(),
            creation_timestamp: row.try_get("creation_timestamp")?,
            last_updated_timestamp: row.try_get("last_updated_timestamp")?,
            user_id: row.try_get("user_id")?,
            current_stage: row.try_get("current_stage")?,
            description: row.try_get("description")?,
            source: row.try_get("source")?,
            run_id: row.try_get("run_id")?,
            status: row.try_get("status")?,
            run_link: row.try_get("run_link")?,
            model_id: row.try_get("model_id")?,
            tags: tags_of(tags)?,
            aliases,
            name,
        })
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let number = parse_version(version)?;
        self.require_registered_model(name).await?;
        self.versions_where(name, Which::Version(number)).await?.pop().ok_or_else(|| {
            StoreError::not_found(format!("Model Version (name={name}, version={version}) not found"))
        })
    }

    pub async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: &str,
    ) -> Result<ModelVersion> {
        self.get_model_version(name, version).await?;
        Sql::new("UPDATE model_versions SET description = ")
            .text_arg(description)
            .push(", last_updated_timestamp = ")
            .int_arg(now_ms())
            .push(" WHERE name = ")
            .text_arg(name)
            .push(" AND version = ")
            .int_arg(parse_version(version)?)
            .query()
            .execute(&self.pool)
            .await?;
        self.get_model_version(name, version).await
    }

    /// Deletes a version; aliases pointing at it go too (recorded in the
    /// audit trail).
    pub async fn delete_model_version(&self, name: &str, version: &str, actor: &str) -> Result<()> {
        let existing = self.get_model_version(name, version).await?;
        let number = parse_version(version)?;
        let mut tx = self.write().await?;
        for alias in &existing.aliases {
            record_event(&mut tx, name, "alias", alias, Some(number), None, actor, "version deleted").await?;
        }
        if existing.current_stage != "None" {
            record_event(
                &mut tx,
                name,
                "stage",
                &existing.current_stage,
                Some(number),
                None,
                actor,
                "version deleted",
            )
            .await?;
        }
        for table in ["model_version_tags", "registered_model_aliases", "model_versions"] {
            Sql::new(&format!("DELETE FROM {table} WHERE name = "))
                .text_arg(name)
                .push(" AND version = ")
                .int_arg(number)
                .query()
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Versions matching a filter on `name`, `run_id`, `source_path`,
    /// `version_number` and `tags.KEY`.
    pub async fn search_model_versions(
        &self,
        filter: Option<&str>,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<(Vec<ModelVersion>, Option<String>)> {
        const ATTRIBUTES: AttributeColumns = AttributeColumns {
            columns: &[
                ("name", "v.name", false),
                ("run_id", "v.run_id", false),
                ("source_path", "v.source", false),
                ("source", "v.source", false),
                ("version_number", "v.version", true),
                ("current_stage", "v.current_stage", false),
            ],
        };
        let page = Page::new(max_results, 10_000, page_token)?;
        let mut sql = Sql::new("SELECT v.* FROM model_versions v WHERE 1 = 1");
        for clause in filter::parse(filter.unwrap_or(""))? {
            sql.push(" AND ");
            match clause.entity {
                Entity::Tag => {
                    sql.push(
                        "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = v.name AND t.version = v.version AND t.key = ",
                    )
                    .text_arg(clause.key.clone())
                    .push(" AND ");
                    text_condition(&mut sql, "t.value", &clause)?;
                    sql.push(")");
                }
                Entity::Attribute => match ATTRIBUTES.lookup(&clause.key) {
                    Some((column, true)) => {
                        let number = match &clause.value {
                            filter::Value::Number(n) => *n as i64,
                            filter::Value::Text(t) => parse_version(t)?,
                            filter::Value::List(_) => {
                                return Err(StoreError::invalid("version_number takes one number"));
                            }
                        };
                        sql.push(&format!("{column} {} ", clause.comparator.sql())).int_arg(number);
                    }
                    Some((column, false)) => text_condition(&mut sql, column, &clause)?,
                    None => {
                        return Err(StoreError::invalid(format!(
                            "unknown model version attribute '{}'; searchable: {}, tags.KEY",
                            clause.key,
                            ATTRIBUTES.names()
                        )));
                    }
                },
                _ => {
                    return Err(StoreError::invalid(
                        "model versions can be filtered by attributes and tags.KEY",
                    ));
                }
            }
        }
        sql.push(" ORDER BY v.name, v.version DESC").page(&page);
        let rows = sql.query().fetch_all(&self.pool).await?;
        let (rows, next) = page.split(rows);
        let mut versions = Vec::new();
        for row in rows.iter() {
            versions.push(self.model_version_from_row(row).await?);
        }
        Ok((versions, next))
    }

    /// The newest version in each requested stage (all stages when empty).
    pub async fn get_latest_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
        let wanted: Vec<&'static str> =
            stages.iter().map(|s| canonical_stage(s)).collect::<Result<Vec<_>>>()?;
        let model = self.get_registered_model(name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| wanted.is_empty() || wanted.contains(&v.current_stage.as_str()))
            .collect())
    }

    /// Moves a version to a stage; with `archive_existing`, other versions
    /// in that stage (Staging or Production) move to Archived. Every move
    /// is recorded with `actor` and `reason`.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing: bool,
        actor: &str,
        reason: &str,
    ) -> Result<ModelVersion> {
        let stage = canonical_stage(stage)?;
        let current = self.get_model_version(name, version).await?;
        let number = parse_version(version)?;
        let now = now_ms();
        let mut tx = self.write().await?;
        if archive_existing && (stage == "Staging" || stage == "Production") {
            let others = Sql::new("SELECT version FROM model_versions WHERE name = ")
                .text_arg(name)
                .push(" AND current_stage = ")
                .text_arg(stage)
                .push(" AND version != ")
                .int_arg(number)
                .query()
                .fetch_all(&mut *tx)
                .await?;
            for row in others {
                let other: i64 = row.try_get("version")?;
                set_stage(&mut tx, name, other, "Archived", now).await?;
                record_event(&mut tx, name, "stage", stage, Some(other), None, actor, reason).await?;
                record_event(&mut tx, name, "stage", "Archived", None, Some(other), actor, reason).await?;
            }
        }
        if current.current_stage != stage {
            set_stage(&mut tx, name, number, stage, now).await?;
            if current.current_stage != "None" {
                record_event(
                    &mut tx,
                    name,
                    "stage",
                    &current.current_stage,
                    Some(number),
                    None,
                    actor,
                    reason,
                )
                .await?;
            }
            record_event(&mut tx, name, "stage", stage, None, Some(number), actor, reason).await?;
        }
        tx.commit().await?;
        self.get_model_version(name, version).await
    }

    pub async fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> Result<()> {
        check_key("tag", &tag.key)?;
        self.get_model_version(name, version).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "model_version_tags", &version_owner(name, parse_version(version)?), tag).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        self.get_model_version(name, version).await?;
        Sql::new("DELETE FROM model_version_tags WHERE name = ")
            .text_arg(name)
            .push(" AND version = ")
            .int_arg(parse_version(version)?)
            .push(" AND key = ")
            .text_arg(key)
            .query()
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Where a version's files are: a logged model's artifacts, a run's
    /// artifact path, or the source as registered.
    pub async fn model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        let v = self.get_model_version(name, version).await?;
        if let Some(model_id) = v
            .model_id
            .as_deref()
            .or_else(|| v.source.strip_prefix("models:/").filter(|s| s.starts_with("m-")))
        {
            return Ok(self.get_logged_model(model_id).await?.info.artifact_uri);
        }
        if let Some(rest) = v.source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let run = self.get_run(run_id).await?;
            return Ok(if path.is_empty() {
                run.info.artifact_uri
            } else {
                format!("{}/{path}", run.info.artifact_uri)
            });
        }
        Ok(v.source)
    }

    // ----- aliases -----------------------------------------------------

    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        actor: &str,
        reason: &str,
    ) -> Result<()> {
        check_alias(alias)?;
        self.get_model_version(name, version).await?;
        let number = parse_version(version)?;
        let previous = self.aliases_of(name).await?.into_iter().find(|(a, _)| a == alias).map(|(_, v)| v);
        let mut tx = self.write().await?;
        let values = vec![Arg::Text(name.into()), Arg::Text(alias.into()), Arg::Int(number)];
        Sql::insert("registered_model_aliases", &["name", "alias", "version"], values)
            .push(" ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version")
            .query()
            .execute(&mut *tx)
            .await?;
        if previous != Some(number) {
            record_event(&mut tx, name, "alias", alias, previous, Some(number), actor, reason).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_alias(&self, name: &str, alias: &str, actor: &str, reason: &str) -> Result<()> {
        self.require_registered_model(name).await?;
        let previous = self.aliases_of(name).await?.into_iter().find(|(a, _)| a == alias).map(|(_, v)| v);
        let Some(previous) = previous else {
            return Err(StoreError::not_found(format!("Registered model alias {alias} not found.")));
        };
        let mut tx = self.write().await?;
        Sql::new("DELETE FROM registered_model_aliases WHERE name = ")
            .text_arg(name)
            .push(" AND alias = ")
            .text_arg(alias)
            .query()
            .execute(&mut *tx)
            .await?;
        record_event(&mut tx, name, "alias", alias, Some(previous), None, actor, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.require_registered_model(name).await?;
        let version = self.aliases_of(name).await?.into_iter().find(|(a, _)| a == alias).map(|(_, v)| v);
        let Some(version) = version else {
            return Err(StoreError::not_found(format!("Registered model alias {alias} not found.")));
        };
        self.get_model_version(name, &version.to_string()).await
    }

    // ----- audit trail -------------------------------------------------

    /// Stage and alias changes of a model, oldest first, optionally up to
    /// `until` (epoch ms).
    pub async fn registry_events(&self, name: &str, until: Option<i64>) -> Result<Vec<RegistryEvent>> {
        let mut sql = Sql::new("SELECT * FROM registry_events WHERE name = ");
        sql.text_arg(name);
        if let Some(t) = until {
            sql.push(" AND at <= ").int_arg(t);
        }
        sql.push(" ORDER BY at, event_id");
        let rows = sql.query().fetch_all(&self.pool).await?;
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
            match event.kind.as_str() {
                "stage" => {
                    let holders = stages.entry(event.subject.clone()).or_default();
                    if let Some(from) = &event.from_version {
                        holders.retain(|v| v != from);
                    }
                    if let Some(to) = event.to_version {
                        holders.push(to);
                    }
                }
                _ => match event.to_version {
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

/// Which versions of a model to read.
enum Which {
    Version(i64),
    /// The newest version in each stage (a registered model's
    /// `latest_versions`), without reading every version.
    NewestPerStage,
}

fn version_owner(name: &str, version: i64) -> [(&'static str, Arg); 2] {
    [("name", Arg::Text(name.into())), ("version", Arg::Int(version))]
}

async fn set_stage(tx: &mut WriteTx, name: &str, version: i64, stage: &str, now: i64) -> Result<()> {
    Sql::new("UPDATE model_versions SET current_stage = ")
        .text_arg(stage)
        .push(", last_updated_timestamp = ")
        .int_arg(now)
        .push(" WHERE name = ")
        .text_arg(name)
        .push(" AND version = ")
        .int_arg(version)
        .query()
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record_event(
    tx: &mut WriteTx,
    name: &str,
    kind: &str,
    subject: &str,
    from: Option<i64>,
    to: Option<i64>,
    actor: &str,
    reason: &str,
) -> Result<()> {
    // Events are read back by (at, event_id): time-ordered ids keep two
    // changes of the same millisecond in the order they were made, which
    // a replay of the trail depends on (an alias moved 1 -> 2 -> 3).
    let values = vec![
        Arg::Text(uuid::Uuid::now_v7().simple().to_string()),
        Arg::Int(now_ms()),
        Arg::Text(name.into()),
        Arg::Text(kind.into()),
        Arg::Text(subject.into()),
        from.map_or(Arg::NullInt, Arg::Int),
        to.map_or(Arg::NullInt, Arg::Int),
        Arg::Text(actor.into()),
        Arg::Text(reason.into()),
    ];
    let columns =
        ["event_id", "at", "name", "kind", "subject", "from_version", "to_version", "actor", "reason"];
    Sql::insert("registry_events", &columns, values).query().execute(&mut **tx).await?;
    Ok(())
}
