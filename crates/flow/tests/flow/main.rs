//! The orchestration crate's integration tests, one binary: the scheduler
//! under a clock moved by hand on each backend ([`scheduler`]), and the
//! pipeline file schema against the loader ([`schema`]).

mod scheduler;
mod schema;
