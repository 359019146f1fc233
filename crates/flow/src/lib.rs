//! Orchestration: pipelines in YAML run by an embedded scheduler, the way
//! Airflow runs DAGs, from one binary.
//!
//! - [`pipeline`]: pipeline files, checked with file and line;
//!   [`schedule`]: cron schedules and data intervals;
//!   [`template`]: `{{ ds }}` and friends;
//! - [`project`]: retrain.yaml and the project directory; `retrain init`'s scaffold;
//! - [`state`]: runs and task instances and the states they go through;
//!   [`store`]: them, variables and pauses in the metadata database;
//! - [`scheduler`]: what runs when; [`executor`]: task instances as child processes;
//! - [`protocol`]: what the scheduler's process and a task instance's process agree on;
//! - [`task`]: one task instance, inside its process; [`ops`]: what tasks do;
//! - [`runs`]: runs asked for by hand; [`intervene`]: runs cleared or marked by hand;
//! - [`notify`]: Telegram, e-mail, webhook and log channels; [`redact`]: secrets out of logs;
//!   [`secrets`]: secret variables encrypted at rest.

#![warn(missing_docs)]

pub mod executor;
pub mod intervene;
pub mod notify;
pub mod ops;
pub mod pipeline;
pub mod project;
pub mod protocol;
pub mod redact;
pub mod runs;
pub mod schedule;
pub mod scheduler;
pub mod secrets;
pub mod state;
pub mod store;
pub mod task;
pub mod template;

pub use pipeline::Pipeline;
pub use project::Project;
