//! Tracking and model registry: MLflow's data model (experiments, runs,
//! params, metrics, tags; later registered models, versions, aliases and
//! stages) stored in SQLite or PostgreSQL.
//!
//! - [`entities`]: the JSON shapes of MLflow's REST API;
//! - [`error`]: MLflow's error codes and their HTTP statuses, in one table;
//! - [`filter`]: MLflow's search-filter grammar;
//! - [`sql`]: parameterised SQL that runs on both engines;
//! - [`store`]: [`SqlStore`], the store itself (tracking);
//! - [`models`]: logged models and the model registry with its audit trail;
//! - [`rest`]: [`RestStore`], an MLflow REST client for our server or MLflow's;
//! - [`uri`]: model URIs (`models:/NAME@ALIAS`, …);
//! - [`artifacts`]: [`artifacts::ArtifactStore`], files behind the artifact API.

pub mod artifacts;
pub mod entities;
pub mod error;
pub mod filter;
pub mod models;
pub mod rest;
pub mod sql;
pub mod store;
pub mod uri;

pub use artifacts::ArtifactStore;
pub use error::{ErrorCode, Result, StoreError};
pub use rest::RestStore;
pub use store::{Backend, SqlStore, WriteTx, now_ms};
