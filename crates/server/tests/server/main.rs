//! The server's integration tests, one binary. Handlers are driven
//! in-process through the router (`tower::ServiceExt::oneshot`); a real
//! socket is bound only where a real client needs one: `MlflowClient`
//! against retrain's server or MLflow's, and the champion swapped while
//! clients keep sending requests.
//!
//! `cargo test -p retrain-server --test server mlflow_client` runs the
//! `MlflowClient` tests alone (against a real `mlflow server` too when
//! `MLFLOW_SERVER_URL` names one).

mod access;
mod common;
mod mlflow_api;
mod mlflow_client;
mod serving;
mod ui;
