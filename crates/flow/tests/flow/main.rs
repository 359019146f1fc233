//! The orchestration crate's integration tests, one binary: the scheduler
//! under a clock moved by hand on each backend ([`scheduler`]), and the
//! pipeline file schema against the loader ([`schema`]), and secret
//! variables encrypted in the database on each backend ([`secrets`]).

mod scheduler;
mod schema;
mod secrets;
