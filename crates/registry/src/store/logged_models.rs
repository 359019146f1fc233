//! MLflow 3's logged models: what `log_model` creates (with its params
//! and tags) before any registry, finalized once its files are uploaded,
//! and the runs that produced them (`runs/outputs`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, now_ms};
use crate::entities::{LoggedModel, LoggedModelData, LoggedModelInfo, Param, Tag, ViewType};
use crate::error::{Result, StoreError};
use crate::limits::check_key;
use crate::states::{Lifecycle, LoggedModelStatus, requested};
use crate::store::experiments::parse_experiment_id;
use crate::store::only;
use crate::store::search::{
    KeyValues, Kind, Page, Request, Search, Searchable, attribute, lifecycle_condition,
};
use crate::tags::{group_by, set_tag_in, tag_of};

impl Searchable for LoggedModel {
    const SEARCH: Search = Search {
        plural: "logged models",
        select: "SELECT l.* FROM logged_models l",
        attributes: &[
            attribute("name", "l.name", Kind::Text),
            attribute("model_id", "l.model_id", Kind::Text),
            attribute("status", "l.status", Kind::Text),
            attribute("source_run_id", "l.source_run_id", Kind::Text),
        ],
        tags: KeyValues { table: "logged_model_tags", join: "x.model_id = l.model_id" },
        params: None,
        metrics: None,
        orderable: &[],
        default_order: "l.creation_timestamp_ms DESC, l.model_id",
        page_size: 100,
    };

    async fn load_page(store: &SqlStore, rows: Vec<AnyRow>) -> Result<Vec<LoggedModel>> {
        store.logged_models_from_rows(rows).await
    }
}

impl SqlStore {
    /// Creates an MLflow 3 logged model in the experiment, pending, named
    /// `model` unless `name` is given; its files go under the experiment's
    /// artifact location.
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
        let name = name.filter(|n| !n.is_empty()).unwrap_or("model").to_owned();
        let artifact_location = format!("{}/models/{model_id}/artifacts", experiment.artifact_location);
        let now = now_ms();
        let mut tx = self.write().await?;
        let values = vec![
            Arg::Text(model_id.clone()),
            Arg::Int(parse_experiment_id(experiment_id)?),
            Arg::Text(name),
            Arg::Text(artifact_location),
            Arg::Text(LoggedModelStatus::Pending.as_ref().into()),
            source_run_id.map_or(Arg::NullText, |r| Arg::Text(r.into())),
            model_type.map_or(Arg::NullText, |t| Arg::Text(t.into())),
            Arg::Int(now),
            Arg::Int(now),
            Arg::Text(Lifecycle::Active.as_ref().into()),
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
        Sql::insert("logged_models", &columns, values).execute(&mut *tx).await?;
        for p in params {
            let owner = [("model_id", Arg::Text(model_id.clone()))];
            Sql::upsert_key_value("logged_model_params", &owner, &p.key, &p.value).execute(&mut *tx).await?;
        }
        for t in tags {
            set_tag_in(&mut tx, "logged_model_tags", &[("model_id", Arg::Text(model_id.clone()))], t).await?;
        }
        tx.commit().await?;
        self.get_logged_model(&model_id).await
    }

    /// The logged model with id `model_id`, deleted ones included.
    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let row = Sql::new("SELECT * FROM logged_models WHERE model_id = ")
            .text_arg(model_id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Logged model with ID '{model_id}' not found.")))?;
        only(self.logged_models_from_rows(vec![row]).await?, "a logged model")
    }

    /// Logged models from their rows, with every tag and param read in
    /// one query each.
    async fn logged_models_from_rows(&self, rows: Vec<AnyRow>) -> Result<Vec<LoggedModel>> {
        let ids = rows.iter().map(|row| row.try_get("model_id")).collect::<Result<Vec<String>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let of_models = |table: &str| {
            let mut sql = Sql::new(&format!("SELECT model_id, key, value FROM {table} WHERE model_id IN "));
            sql.list(ids.iter().cloned().map(Arg::Text)).push(" ORDER BY key");
            sql
        };
        let owner = |r: &AnyRow| Ok(r.try_get::<String, _>("model_id")?);
        let mut tags = group_by(&self.fetch_all(&of_models("logged_model_tags")).await?, owner, tag_of)?;
        let param = |r: &AnyRow| tag_of(r).map(|t| Param { key: t.key, value: t.value });
        let mut params = group_by(&self.fetch_all(&of_models("logged_model_params")).await?, owner, param)?;
        rows.iter()
            .zip(ids)
            .map(|(row, model_id)| {
                let experiment_id: i64 = row.try_get("experiment_id")?;
                Ok(LoggedModel {
                    data: LoggedModelData {
                        params: params.remove(&model_id).unwrap_or_default(),
                        metrics: Vec::new(),
                    },
                    info: LoggedModelInfo {
                        experiment_id: experiment_id.to_string(),
                        name: row.try_get("name")?,
                        artifact_uri: row.try_get("artifact_location")?,
                        status: row.try_get("status")?,
                        source_run_id: row.try_get("source_run_id")?,
                        model_type: row.try_get("model_type")?,
                        creation_timestamp_ms: row.try_get("creation_timestamp_ms")?,
                        last_updated_timestamp_ms: row.try_get("last_updated_timestamp_ms")?,
                        tags: tags.remove(&model_id).unwrap_or_default(),
                        model_id,
                    },
                })
            })
            .collect()
    }

    /// Sets a logged model's status (`LOGGED_MODEL_READY` once its files are
    /// uploaded, or `LOGGED_MODEL_UPLOAD_FAILED`) and returns it.
    pub async fn finalize_logged_model(&self, model_id: &str, status: &str) -> Result<LoggedModel> {
        let status = requested::<LoggedModelStatus>("logged model status", status)?;
        self.get_logged_model(model_id).await?;
        Sql::new("UPDATE logged_models SET status = ")
            .text_arg(status.as_ref())
            .push(", last_updated_timestamp_ms = ")
            .int_arg(now_ms())
            .push(" WHERE model_id = ")
            .text_arg(model_id)
            .execute(&self.db.pool)
            .await?;
        self.get_logged_model(model_id).await
    }

    /// Sets tags on a logged model, replacing their values; all or none.
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

    /// Marks a logged model deleted; it stays readable by id but leaves
    /// searches.
    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.get_logged_model(model_id).await?;
        Sql::new(&format!(
            "UPDATE logged_models SET lifecycle_stage = '{}' WHERE model_id = ",
            Lifecycle::Deleted.as_ref()
        ))
        .text_arg(model_id)
        .execute(&self.db.pool)
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
        let ids = experiment_ids
            .iter()
            .map(|id| parse_experiment_id(id).map(Arg::Int))
            .collect::<Result<Vec<_>>>()?;
        if ids.is_empty() {
            // Checked as MLflow does: a bad page request is refused all the same.
            Page::new(max_results, LoggedModel::SEARCH.page_size, page_token)?;
            return Ok((Vec::new(), None));
        }
        let request = Request { filter, order_by: &[], max_results, page_token };
        self.search::<LoggedModel>(request, |sql| {
            lifecycle_condition(sql, "l.lifecycle_stage", ViewType::ActiveOnly);
            sql.push(" AND l.experiment_id IN ").list(ids);
            Ok(())
        })
        .await
    }

    /// Records that a run produced logged models (`runs/outputs`).
    pub async fn log_outputs(&self, run_id: &str, models: &[(String, i64)]) -> Result<()> {
        self.get_run(run_id).await?;
        let mut tx = self.write().await?;
        for (model_id, step) in models {
            let values = vec![Arg::Text(run_id.into()), Arg::Text(model_id.clone()), Arg::Int(*step)];
            Sql::insert("run_outputs", &["run_id", "model_id", "step"], values)
                .push(" ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
