//! The `retrain` binary as a user meets it, one test binary: every
//! command and its bad inputs ([`commands`]), pipelines from `init` to
//! recovery after `kill -9` ([`pipelines`]), and `retrain server` driven by
//! `retrain runs` / `retrain models` ([`tracking`]), users and tokens
//! ([`users`]), secret variables ([`secrets`]), with the helpers they
//! share ([`common`]).

mod commands;
mod common;
mod pipelines;
mod secrets;
mod tracking;
mod users;
