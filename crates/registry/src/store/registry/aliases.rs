//! Aliases: names that point at one version of a registered model
//! (`models:/NAME@champion`), each move recorded in the audit trail.

use sqlx::Row;

use crate::SqlStore;
use crate::db::{Arg, Sql};
use crate::entities::ModelVersion;
use crate::error::{Result, StoreError};
use crate::limits::{check_alias, parse_version};
use crate::store::audit::{Event, record_event};

impl SqlStore {
    async fn aliases_of(&self, name: &str) -> Result<Vec<(String, i64)>> {
        let rows = Sql::new("SELECT alias, version FROM registered_model_aliases WHERE name = ")
            .text_arg(name)
            .push(" ORDER BY alias")
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("alias")?, r.try_get("version")?))).collect()
    }

    /// Points `alias` at `version` of model `name`, moving it from another
    /// version if it was set; a move is recorded in the audit trail with
    /// `actor` and `reason`.
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
            .execute(&mut *tx)
            .await?;
        if previous != Some(number) {
            record_event(&mut tx, Event::alias(name, alias, previous, Some(number)), actor, reason).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes an alias, recording it in the audit trail; an alias that is not
    /// set is `RESOURCE_DOES_NOT_EXIST`.
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
            .execute(&mut *tx)
            .await?;
        record_event(&mut tx, Event::alias(name, alias, Some(previous), None), actor, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The version `alias` of model `name` points at.
    pub async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.require_registered_model(name).await?;
        let version = self.aliases_of(name).await?.into_iter().find(|(a, _)| a == alias).map(|(_, v)| v);
        let Some(version) = version else {
            return Err(StoreError::not_found(format!("Registered model alias {alias} not found.")));
        };
        self.get_model_version(name, &version.to_string()).await
    }
}
