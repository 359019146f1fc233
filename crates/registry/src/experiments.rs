//! Experiments: create, read, rename, delete and restore (with their
//! runs), tag, search. Experiment 0, "Default", always exists; IDs are
//! allocated as the largest plus one, retried when a concurrent creator
//! took it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::db::{Arg, Sql, now_ms, text};
use crate::entities::{ACTIVE, DELETED, Experiment, Tag, ViewType};
use crate::error::{ErrorCode, Result, StoreError};
use crate::filter;
use crate::limits::{MAX_EXPERIMENT_NAME_CHARS, MAX_EXPERIMENT_TAG_VALUE_CHARS, check_length, check_tag};
use crate::search::{AttributeColumns, Page, lifecycle_condition, parse_order_item};
use crate::tags::set_tag_in;

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
        Arg::Text(ACTIVE.into()),
        Arg::Int(now),
        Arg::Int(now),
    ];
    Sql::insert("experiments", &columns, values)
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
                Some(l) => l.to_string(),
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

    async fn experiment_from_row(&self, row: &AnyRow) -> Result<Experiment> {
        let id: i64 = row.try_get("experiment_id")?;
        let tags = Sql::new("SELECT key, value FROM experiment_tags WHERE experiment_id = ")
            .int_arg(id)
            .push(" ORDER BY key")
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(|t| Ok(Tag { key: text(t, "key")?, value: text(t, "value")? }))
            .collect::<Result<Vec<_>>>()?;
        Ok(Experiment {
            experiment_id: id.to_string(),
            name: text(row, "name")?,
            artifact_location: text(row, "artifact_location")?,
            lifecycle_stage: text(row, "lifecycle_stage")?,
            creation_time: row.try_get("creation_time")?,
            last_update_time: row.try_get("last_update_time")?,
            tags,
        })
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = parse_experiment_id(experiment_id)?;
        let row = Sql::new("SELECT * FROM experiments WHERE experiment_id = ")
            .int_arg(id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("No Experiment with id={experiment_id} exists")))?;
        self.experiment_from_row(&row).await
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let row = Sql::new("SELECT * FROM experiments WHERE name = ")
            .text_arg(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Could not find experiment with name '{name}'")))?;
        self.experiment_from_row(&row).await
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
        const ATTRIBUTES: AttributeColumns = AttributeColumns {
            columns: &[
                ("name", "e.name", false),
                ("experiment_id", "e.experiment_id", true),
                ("creation_time", "e.creation_time", true),
                ("last_update_time", "e.last_update_time", true),
            ],
        };
        let page = Page::new(max_results, 1000, page_token)?;
        let mut sql = Sql::new("SELECT e.* FROM experiments e WHERE 1 = 1");
        lifecycle_condition(&mut sql, "e.lifecycle_stage", view);
        for clause in filter::parse(filter.unwrap_or(""))? {
            sql.push(" AND ");
            match clause.entity {
                filter::Entity::Tag => {
                    sql.push("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ")
                        .text_arg(clause.key.clone())
                        .push(" AND ");
                    crate::search::text_condition(&mut sql, "t.value", &clause)?;
                    sql.push(")");
                }
                filter::Entity::Attribute => {
                    let Some((column, numeric)) = ATTRIBUTES.lookup(&clause.key) else {
                        return Err(StoreError::invalid(format!(
                            "unknown experiment attribute '{}'; searchable: {}, tags.KEY",
                            clause.key,
                            ATTRIBUTES.names()
                        )));
                    };
                    if numeric {
                        let filter::Value::Number(n) = clause.value else {
                            return Err(StoreError::invalid(format!(
                                "{} is compared with a number",
                                clause.key
                            )));
                        };
                        sql.push(&format!("{column} {} ", clause.comparator.sql())).int_arg(n as i64);
                    } else {
                        crate::search::text_condition(&mut sql, column, &clause)?;
                    }
                }
                _ => {
                    return Err(StoreError::invalid(
                        "experiments can be filtered by name, attributes and tags.KEY only",
                    ));
                }
            }
        }
        let mut order = Vec::new();
        for item in order_by {
            let (key, descending) = parse_order_item(item)?;
            let column = match key.trim_start_matches("attributes.").trim_start_matches("attribute.") {
                "name" => "e.name",
                "experiment_id" => "e.experiment_id",
                "creation_time" => "e.creation_time",
                "last_update_time" => "e.last_update_time",
                other => {
                    return Err(StoreError::invalid(format!(
                        "cannot order experiments by '{other}'; use name, experiment_id, creation_time or last_update_time"
                    )));
                }
            };
            order.push(format!("{column} {}", if descending { "DESC" } else { "ASC" }));
        }
        order.push("e.experiment_id ASC".into());
        page.apply(sql.push(&format!(" ORDER BY {}", order.join(", "))));
        let rows = sql.fetch_all(&self.db.pool).await?;
        let (rows, next) = page.split(rows);
        let mut experiments = Vec::new();
        for row in rows.iter() {
            experiments.push(self.experiment_from_row(row).await?);
        }
        Ok((experiments, next))
    }

    pub async fn update_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        if new_name.trim().is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'new_name'"));
        }
        check_length("'new_name'", new_name, MAX_EXPERIMENT_NAME_CHARS)?;
        let experiment = self.get_experiment(experiment_id).await?;
        if experiment.lifecycle_stage != ACTIVE {
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
        let id = parse_experiment_id(experiment_id)?;
        self.get_experiment(experiment_id).await?;
        if id == 0 && stage == DELETED {
            return Err(StoreError::invalid("Cannot delete the default experiment '0'"));
        }
        let mut tx = self.write().await?;
        Sql::new("UPDATE experiments SET lifecycle_stage = ")
            .text_arg(stage)
            .push(", last_update_time = ")
            .int_arg(now_ms())
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .execute(&mut *tx)
            .await?;
        Sql::new("UPDATE runs SET lifecycle_stage = ")
            .text_arg(stage)
            .push(" WHERE experiment_id = ")
            .int_arg(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

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
