//! Tracking and model registry: MLflow's data model (experiments, runs,
//! params, metrics, tags, logged models, registered models, versions,
//! stages and aliases, with an audit trail) stored in SQLite or
//! PostgreSQL, and the clients and files around it.
//!
//! - [`SqlStore`] (`store`): the store, one module per entity
//!   (experiments, runs, metrics, logged models, registry, audit), each
//!   adding its own operations to [`SqlStore`], and one search engine the
//!   five MLflow searches share, over the filter grammar (`filter`). Below
//!   it: the database layer (`db`: connection, migrations, SQL builder,
//!   write transactions, group commit, SQLite's maintenance), MLflow's key
//!   and length rules (`limits`), the states it spells as text (`states`)
//!   and the tag tables every entity has (`tags`); none of these knows
//!   the store.
//! - [`entities`]: the JSON shapes of MLflow's REST API;
//! - [`StoreError`] and [`ErrorCode`]: MLflow's error codes and their HTTP
//!   statuses, in one table;
//! - [`MlflowClient`]: an MLflow REST client for our server or MLflow's;
//! - [`ArtifactStore`]: files behind the artifact API;
//! - [`ModelUri`]: model URIs (`models:/NAME@ALIAS`, …).

#![warn(missing_docs)]

mod artifacts;
mod client;
mod db;
pub mod entities;
mod error;
mod filter;
mod limits;
mod states;
mod store;
mod tags;
#[cfg(feature = "testing")]
pub mod testing;
mod uri;

pub use artifacts::{ArtifactStore, FileInfo, checked_path};
pub use client::{MlflowClient, TOKEN_ENV};
pub use db::{Arg, Backend, Sql, WriteTx, now_ms};
pub use error::{ErrorCode, Result, StoreError};
pub use states::stored;
pub use store::SqlStore;
pub use store::sessions::{Caller, MAX_PASSWORD_BYTES, Sessions};
pub use store::users::{ApiToken, MIN_PASSWORD_CHARS, NewToken, Role, User, generate_password};
pub use uri::{ModelRef, ModelUri};
