//! Model versions: registration (numbered per model, retried when a
//! concurrent registration took the number), stages with MLflow's
//! `archive_existing_versions`, tags, search, and where a version's files
//! are.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, WriteTx, now_ms};
use crate::entities::{ModelVersion, Tag};
use crate::error::{ErrorCode, Result, StoreError};
use crate::limits::check_key;
use crate::limits::parse_version;
use crate::states::{Stage, stored};
use crate::store::audit::{Event, record_event};
use crate::store::only;
use crate::store::registry::{canonical_stage, check_name};
use crate::store::search::{KeyValues, Kind, Request, Search, Searchable, attribute};
use crate::tags::{group_by, set_tag_in, tag_of};

impl Searchable for ModelVersion {
    const SEARCH: Search = Search {
        plural: "model versions",
        select: "SELECT v.* FROM model_versions v",
        attributes: &[
            attribute("name", "v.name", Kind::Text),
            attribute("run_id", "v.run_id", Kind::Text),
            attribute("source_path", "v.source", Kind::Text),
            attribute("source", "v.source", Kind::Text),
            attribute("version_number", "v.version", Kind::Version),
            attribute("current_stage", "v.current_stage", Kind::Text),
        ],
        tags: KeyValues { table: "model_version_tags", join: "x.name = v.name AND x.version = v.version" },
        params: None,
        metrics: None,
        orderable: &[],
        default_order: "v.name, v.version DESC",
        page_size: 10_000,
    };

    async fn load_page(store: &SqlStore, rows: Vec<AnyRow>) -> Result<Vec<ModelVersion>> {
        store.model_versions_from_rows(rows).await
    }
}

impl SqlStore {
    /// Registers the next version of model `name` from `source`. A version of
    /// an MLflow 3 logged model (`model_id`, or a `models:/m-…` source) takes
    /// that model's run when `run_id` is not given.
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
        // A version of an MLflow 3 logged model (a `models:/m-…` source,
        // or its id) keeps the model and takes its run when the request
        // names none, as MLflow's server does: lineage survives.
        let model_id = model_id.filter(|m| !m.is_empty()).or_else(|| logged_model_id(source));
        let logged_run = match model_id {
            Some(model_id) => self.get_logged_model(model_id).await?.info.source_run_id,
            None => None,
        };
        let run_id = run_id.filter(|r| !r.is_empty()).or(logged_run.as_deref());
        for _ in 0..5 {
            let mut tx = self.write().await?;
            let row =
                Sql::new("SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE name = ")
                    .text_arg(name)
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
                Arg::Text(Stage::None.as_ref().into()),
                Arg::Text(source.into()),
                run_id.map_or(Arg::NullText, |r| Arg::Text(r.into())),
                run_link.filter(|r| !r.is_empty()).map_or(Arg::NullText, |r| Arg::Text(r.into())),
                model_id.map_or(Arg::NullText, |m| Arg::Text(m.into())),
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
            match Sql::insert("model_versions", &columns, values).execute(&mut *tx).await {
                Ok(_) => {}
                Err(err) => {
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
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return self.get_model_version(name, &version.to_string()).await;
        }
        Err(StoreError::internal("could not allocate a model version under concurrent registration"))
    }

    /// Model versions from their rows, with every tag and alias read in
    /// one query each.
    pub(super) async fn model_versions_from_rows(&self, rows: Vec<AnyRow>) -> Result<Vec<ModelVersion>> {
        let keys = rows
            .iter()
            .map(|row| Ok((row.try_get::<String, _>("name")?, row.try_get::<i64, _>("version")?)))
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let of_versions = |columns: &str, table: &str, order: &str| {
            let mut sql =
                Sql::new(&format!("SELECT name, version, {columns} FROM {table} WHERE (name, version) IN "));
            sql.values(keys.iter().map(|(name, version)| vec![Arg::Text(name.clone()), Arg::Int(*version)]));
            sql.push(&format!(" ORDER BY {order}"));
            sql
        };
        let owner = |r: &AnyRow| Ok((r.try_get::<String, _>("name")?, r.try_get::<i64, _>("version")?));
        let tags = of_versions("key, value", "model_version_tags", "key");
        let mut tags = group_by(&self.fetch_all(&tags).await?, owner, tag_of)?;
        let aliases = of_versions("alias", "registered_model_aliases", "alias");
        let alias = |r: &AnyRow| Ok(r.try_get::<String, _>("alias")?);
        let mut aliases = group_by(&self.fetch_all(&aliases).await?, owner, alias)?;
        rows.iter()
            .zip(keys)
            .map(|(row, key)| {
                Ok(ModelVersion {
                    version: key.1.to_string(),
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
                    tags: tags.remove(&key).unwrap_or_default(),
                    aliases: aliases.remove(&key).unwrap_or_default(),
                    name: key.0,
                })
            })
            .collect()
    }

    /// Version `version` (a number, as text) of model `name`.
    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let number = parse_version(version)?;
        self.require_registered_model(name).await?;
        let row = self
            .fetch_optional(
                Sql::new("SELECT * FROM model_versions WHERE name = ")
                    .text_arg(name)
                    .push(" AND version = ")
                    .int_arg(number),
            )
            .await?
            .ok_or_else(|| {
                StoreError::not_found(format!("Model Version (name={name}, version={version}) not found"))
            })?;
        only(self.model_versions_from_rows(vec![row]).await?, "a model version")
    }

    /// Replaces a version's description and returns the version.
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
            .execute(&self.db.pool)
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
            record_event(&mut tx, Event::alias(name, alias, Some(number), None), actor, "version deleted")
                .await?;
        }
        let stage = stored::<Stage>("model version stage", &existing.current_stage)?;
        if stage != Stage::None {
            record_event(&mut tx, Event::stage(name, stage, Some(number), None), actor, "version deleted")
                .await?;
        }
        for table in ["model_version_tags", "registered_model_aliases", "model_versions"] {
            Sql::new(&format!("DELETE FROM {table} WHERE name = "))
                .text_arg(name)
                .push(" AND version = ")
                .int_arg(number)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Versions matching a filter on `name`, `run_id`, `source_path`,
    /// `version_number`, `current_stage` and `tags.KEY`.
    pub async fn search_model_versions(
        &self,
        filter: Option<&str>,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<(Vec<ModelVersion>, Option<String>)> {
        let request = Request { filter, order_by: &[], max_results, page_token };
        self.search::<ModelVersion>(request, |_| Ok(())).await
    }

    /// The newest version in each requested stage (all stages when empty).
    pub async fn get_latest_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
        let wanted: Vec<&'static str> =
            stages.iter().map(|s| canonical_stage(s).map(<&str>::from)).collect::<Result<Vec<_>>>()?;
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
        let current = stored::<Stage>("model version stage", &current.current_stage)?;
        let number = parse_version(version)?;
        let now = now_ms();
        let mut tx = self.write().await?;
        if archive_existing && stage.is_active() {
            let others = Sql::new("SELECT version FROM model_versions WHERE name = ")
                .text_arg(name)
                .push(" AND current_stage = ")
                .text_arg(stage.as_ref())
                .push(" AND version != ")
                .int_arg(number)
                .fetch_all(&mut *tx)
                .await?;
            for row in others {
                let other: i64 = row.try_get("version")?;
                set_stage(&mut tx, name, other, Stage::Archived, now).await?;
                let left = Event::stage(name, stage, Some(other), None);
                record_event(&mut tx, left, actor, reason).await?;
                let entered = Event::stage(name, Stage::Archived, None, Some(other));
                record_event(&mut tx, entered, actor, reason).await?;
            }
        }
        if current != stage {
            set_stage(&mut tx, name, number, stage, now).await?;
            if current != Stage::None {
                record_event(&mut tx, Event::stage(name, current, Some(number), None), actor, reason).await?;
            }
            record_event(&mut tx, Event::stage(name, stage, None, Some(number)), actor, reason).await?;
        }
        tx.commit().await?;
        self.get_model_version(name, version).await
    }

    /// Sets a tag on a version, replacing its value.
    pub async fn set_model_version_tag(&self, name: &str, version: &str, tag: &Tag) -> Result<()> {
        check_key("tag", &tag.key)?;
        self.get_model_version(name, version).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "model_version_tags", &version_owner(name, parse_version(version)?), tag).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a tag from a version; a tag that is not set is no error.
    pub async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        self.get_model_version(name, version).await?;
        Sql::new("DELETE FROM model_version_tags WHERE name = ")
            .text_arg(name)
            .push(" AND version = ")
            .int_arg(parse_version(version)?)
            .push(" AND key = ")
            .text_arg(key)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Where a version's files are: a logged model's artifacts, a run's
    /// artifact path, or the source as registered.
    pub async fn model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        let v = self.get_model_version(name, version).await?;
        if let Some(model_id) = v.model_id.as_deref().or_else(|| logged_model_id(&v.source)) {
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
}

/// The logged model a `models:/m-…` source names.
fn logged_model_id(source: &str) -> Option<&str> {
    source.strip_prefix("models:/").filter(|id| id.starts_with("m-"))
}

fn version_owner(name: &str, version: i64) -> [(&'static str, Arg); 2] {
    [("name", Arg::Text(name.into())), ("version", Arg::Int(version))]
}

async fn set_stage(tx: &mut WriteTx, name: &str, version: i64, stage: Stage, now: i64) -> Result<()> {
    Sql::new("UPDATE model_versions SET current_stage = ")
        .text_arg(stage.as_ref())
        .push(", last_updated_timestamp = ")
        .int_arg(now)
        .push(" WHERE name = ")
        .text_arg(name)
        .push(" AND version = ")
        .int_arg(version)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
