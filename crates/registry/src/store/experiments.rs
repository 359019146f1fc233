//! Experiments: create, read, rename, delete and restore (with their
//! runs), tag, search. Experiment 0, "Default", always exists; IDs are
//! allocated as the largest plus one, retried when a concurrent creator
//! took it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, now_ms, text};
use crate::entities::{Experiment, Tag, ViewType};
use crate::error::{ErrorCode, Result, StoreError};
use crate::limits::{MAX_EXPERIMENT_NAME_CHARS, MAX_EXPERIMENT_TAG_VALUE_CHARS, check_length, check_tag};
use crate::states::{Lifecycle, requested};
use crate::store::only;
use crate::store::search::{KeyValues, Kind, Request, Search, Searchable, attribute, lifecycle_condition};
use crate::tags::{group_by, set_tag_in, tag_of};

pub(crate) fn parse_experiment_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| StoreError::not_found(format!("No Experiment with id={id} exists")))
}

/// The insert of a new active experiment.
fn insert_experiment(id: i64, name: &str, location: &str) -> Sql {
    let now = now_ms();
    let columns = [
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "creation_time",
        "last_update_time",
    ];
    let values = vec![
        Arg::Int(id),
        Arg::Text(name.into()),
        Arg::Text(location.into()),
        Arg::Text(Lifecycle::Active.as_ref().into()),
        Arg::Int(now),
        Arg::Int(now),
    ];
    Sql::insert("experiments", &columns, values)
}

impl Searchable for Experiment {
    const SEARCH: Search = Search {
        plural: "experiments",
        select: "SELECT e.* FROM experiments e",
        attributes: &[
            attribute("name", "e.name", Kind::Text),
            attribute("experiment_id", "e.experiment_id", Kind::Number),
            attribute("creation_time", "e.creation_time", Kind::Number),
            attribute("last_update_time", "e.last_update_time", Kind::Number),
        ],
        tags: KeyValues { table: "experiment_tags", join: "x.experiment_id = e.experiment_id" },
        params: None,
        metrics: None,
        orderable: &[
            ("name", "e.name"),
            ("experiment_id", "e.experiment_id"),
            ("creation_time", "e.creation_time"),
            ("last_update_time", "e.last_update_time"),
        ],
        default_order: "e.experiment_id ASC",
        page_size: 1000,
    };

    async fn load_page(store: &SqlStore, rows: Vec<AnyRow>) -> Result<Vec<Experiment>> {
        store.experiments_from_rows(rows).await
    }
}

impl SqlStore {
    pub(crate) async fn ensure_default_experiment(&self) -> Result<()> {
        let exists = sqlx::query("SELECT experiment_id FROM experiments WHERE experiment_id = 0")
            .fetch_optional(&self.db.pool)
            .await?;
        if exists.is_none() {
            let location = format!("{}/0", self.artifact_root);
            let result = insert_experiment(0, "Default", &location).execute(&self.db.pool).await;
            // Another process may have created it at the same moment.
            if let Err(err) = result
                && err.code != ErrorCode::ResourceAlreadyExists
            {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Creates an experiment and returns its id; its artifacts go to
    /// `artifact_location`, or under the store's artifact root when `None` or
    /// empty. A name in use (even by a deleted experiment) is
    /// `RESOURCE_ALREADY_EXISTS`.
    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[Tag],
    ) -> Result<String> {
        if name.trim().is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'name'"));
        }
        check_length("'name'", name, MAX_EXPERIMENT_NAME_CHARS)?;
        for tag in tags {
            check_tag("experiment tag", tag, MAX_EXPERIMENT_TAG_VALUE_CHARS)?;
        }
        // Allocate max + 1; a concurrent creator makes the insert fail on
        // the primary key and we try again.
        for _ in 0..5 {
            let mut tx = self.write().await?;
            let taken = Sql::new("SELECT experiment_id FROM experiments WHERE name = ")
                .text_arg(name)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::exists(format!("Experiment '{name}' already exists.")));
            }
            let row = sqlx::query("SELECT COALESCE(MAX(experiment_id), -1) + 1 AS next FROM experiments")
                .fetch_one(&mut *tx)
                .await?;
            let id: i64 = row.try_get("next")?;
            let location = match artifact_location.filter(|l| !l.is_empty()) {
                Some(l) => l.to_owned(),
                None => format!("{}/{id}", self.artifact_root),
            };
            let inserted = insert_experiment(id, name, &location).execute(&mut *tx).await;
            match inserted {
                Ok(_) => {}
                Err(err) => {
                    if err.code == ErrorCode::ResourceAlreadyExists {
                        continue;
                    }
                    return Err(err);
                }
            }
            for tag in tags {
                set_tag_in(&mut tx, "experiment_tags", &[("experiment_id", Arg::Int(id))], tag).await?;
            }
            tx.commit().await?;
            return Ok(id.to_string());
        }
        Err(StoreError::internal("could not allocate an experiment id under concurrent creation"))
    }

    /// Experiments from their rows, with every tag read in one query.
    async fn experiments_from_rows(&self, rows: Vec<AnyRow>) -> Result<Vec<Experiment>> {
        let ids = rows.iter().map(|row| row.try_get("experiment_id")).collect::<Result<Vec<i64>, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql =
            Sql::new("SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ");
        sql.list(ids.iter().copied().map(Arg::Int)).push(" ORDER BY key");
        let mut tags =
            group_by(&self.fetch_all(&sql).await?, |r| Ok(r.try_get::<i64, _>("experiment_id")?), tag_of)?;
        rows.iter()
            .zip(ids)
            .map(|(row, id)| {
                Ok(Experiment {
                    experiment_id: id.to_string(),
                    name: text(row, "name")?,
                    artifact_location: text(row, "artifact_location")?,
                    lifecycle_stage: text(row, "lifecycle_stage")?,
                    creation_time: row.try_get("creation_time")?,
                    last_update_time: row.try_get("last_update_time")?,
                    tags: tags.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The experiment of `row`.
    async fn experiment_from_row(&self, row: AnyRow) -> Result<Experiment> {
        only(self.experiments_from_rows(vec![row]).await?, "an experiment")
    }

    /// The experiment with id `experiment_id`, live or deleted; an id that is
    /// not a number is invalid.
    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = parse_experiment_id(experiment_id)?;
        let row = Sql::new("SELECT * FROM experiments WHERE experiment_id = ")
            .int_arg(id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("No Experiment with id={experiment_id} exists")))?;
        self.experiment_from_row(row).await
    }

    /// The experiment called `name`, live or deleted.
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let row = Sql::new("SELECT * FROM experiments WHERE name = ")
            .text_arg(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Could not find experiment with name '{name}'")))?;
        self.experiment_from_row(row).await
    }

    /// Experiments matching `filter` (on `name`, `tags.KEY`, times),
    /// newest first unless `order_by` says otherwise.
    pub async fn search_experiments(
        &self,
        view: ViewType,
        filter: Option<&str>,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<(Vec<Experiment>, Option<String>)> {
        let request = Request { filter, order_by, max_results, page_token };
        self.search::<Experiment>(request, |sql| {
            lifecycle_condition(sql, "e.lifecycle_stage", view);
            Ok(())
        })
        .await
    }

    /// Renames a live experiment; a deleted one is refused.
    pub async fn update_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        if new_name.trim().is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'new_name'"));
        }
        check_length("'new_name'", new_name, MAX_EXPERIMENT_NAME_CHARS)?;
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != Lifecycle::Active.as_ref() {
            return Err(StoreError::invalid(format!(
                "Cannot rename a non-active experiment {experiment_id}"
            )));
        }
        Sql::new("UPDATE experiments SET name = ")
            .text_arg(new_name)
            .push(", last_update_time = ")
            .int_arg(now_ms())
            .push(" WHERE experiment_id = ")
            .int_arg(parse_experiment_id(experiment_id)?)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Marks an experiment (and its runs) deleted or active again.
    pub async fn set_experiment_lifecycle(&self, experiment_id: &str, stage: &str) -> Result<()> {
        let stage = requested::<Lifecycle>("lifecycle stage", stage)?;
        let id = parse_experiment_id(experiment_id)?;
        self.get_experiment(experiment_id).await?;
        if id == 0 && stage == Lifecycle::Deleted {
            return Err(StoreError::invalid("Cannot delete the default experiment '0'"));
        }
        let mut tx = self.write().await?;
        Sql::new("UPDATE experiments SET lifecycle_stage = ")
            .text_arg(stage.as_ref())
            .push(", last_update_time = ")
            .int_arg(now_ms())
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .execute(&mut *tx)
            .await?;
        Sql::new("UPDATE runs SET lifecycle_stage = ")
            .text_arg(stage.as_ref())
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a tag on an experiment, replacing its value.
    pub async fn set_experiment_tag(&self, experiment_id: &str, tag: &Tag) -> Result<()> {
        check_tag("experiment tag", tag, MAX_EXPERIMENT_TAG_VALUE_CHARS)?;
        let id = parse_experiment_id(experiment_id)?;
        self.get_experiment(experiment_id).await?;
        let mut tx = self.write().await?;
        set_tag_in(&mut tx, "experiment_tags", &[("experiment_id", Arg::Int(id))], tag).await?;
        tx.commit().await?;
        Ok(())
    }
}
