//! The retrain HTTP server. One binary speaks three protocols, each in its
//! own module, and [`App`] puts them together:
//!
//! - MLflow's REST API (tracking, logged models, the model registry and
//!   the proxied artifact service), so MLflow's clients and UI work
//!   against retrain unchanged;
//! - model serving with MLflow's scoring protocol ([`serving`]), so a
//!   model is scored the way `mlflow models serve` scores it;
//! - the part of Airflow's REST API that triggers and watches pipeline
//!   runs ([`airflow`]), so Airflow's clients drive `retrain up`.
//!
//! [`Server`] binds a port and serves an application on it.

#![warn(missing_docs)]

pub mod airflow;
mod app;
mod auth;
mod mlflow;
mod routes;
mod server;
pub mod serving;
mod ui;

pub use app::{App, AppBuilder};
pub use mlflow::ARTIFACT_ROOT;
pub use routes::RouteSpec;
pub use server::{RunningServer, ServeError, Server};

/// The version `/version` reports: this crate's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
