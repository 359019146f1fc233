//! The registry's integration tests, one binary (`--test store`): the
//! tracking store on SQLite and PostgreSQL ([`store`], [`filters`]), users
//! and tokens ([`users`]), and
//! the artifact store ([`artifacts`]), with the helpers they share
//! ([`common`]).

mod artifacts;
mod common;
mod filters;
mod store;
mod users;
