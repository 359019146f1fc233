//! The orchestration crate's integration tests, one binary: the scheduler
//! under a clock moved by hand on each backend ([`scheduler`]), and the
//! pipeline file schema against the loader ([`schema`]), and secret
//! variables encrypted in the database on each backend ([`secrets`]), and
//! runs cleared and marked by hand ([`intervene`]).

mod intervene;
mod scheduler;
mod schema;
mod secrets;
