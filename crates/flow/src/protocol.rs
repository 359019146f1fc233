//! The contract between the scheduler's process and a task instance's
//! process, kept in one place because both sides must agree on it: the
//! executor starts `retrain task run …` with these environment variables
//! and reads these exit codes and this file; the task instance writes them.
//!
//! A task instance ends in one of three ways that are not failures: done
//! (exit 0, its output JSON in the file named by [`OUTPUT_FILE_ENV`]),
//! skipped ([`EXIT_SKIPPED`]) or, for a sensor, not yet
//! ([`EXIT_NOT_YET`]: poke again later). Any other exit is a failed try.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The exit code of a skipped task instance; also what a `shell` command
/// exits with to ask for a skip, as in Airflow.
pub const EXIT_SKIPPED: i32 = 99;

/// The exit code of a sensor whose condition does not hold yet.
pub const EXIT_NOT_YET: i32 = 100;

/// Names the file a task instance writes its output (`outputs.TASK`) to.
pub const OUTPUT_FILE_ENV: &str = "RETRAIN_OUTPUT_FILE";

/// The try a task instance is in (1 for the first), for commands that
/// want to know.
pub const TRY_NUMBER_ENV: &str = "RETRAIN_TRY_NUMBER";

/// Who a task instance acts as ([`task_actor`]); the registry's REST
/// client sends it (by this name) to a server that signs no one in, for
/// its audit trail; a server that does names the task's token instead,
/// which is the same name.
pub const ACTOR_ENV: &str = "RETRAIN_ACTOR";

/// The name a task instance acts as: `task:PIPELINE/RUN/TASK`.
pub fn task_actor(pipeline: &str, run_id: &str, task: &str) -> String {
    format!("task:{pipeline}/{run_id}/{task}")
}

/// What a task instance ended with, short of failing.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; the value is what downstream templates see as `outputs.TASK`.
    Done(Value),
    /// Nothing to do: the task is skipped (its downstream follows the
    /// trigger rules).
    Skipped(String),
    /// A sensor's condition does not hold yet: poke again later.
    NotYet(String),
}

impl Outcome {
    /// The exit code that tells the parent this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Done(_) => 0,
            Outcome::Skipped(_) => EXIT_SKIPPED,
            Outcome::NotYet(_) => EXIT_NOT_YET,
        }
    }

    /// The child's side: writes a done task's output where the parent
    /// asked for it (nothing when no parent asked, as under Airflow).
    pub fn hand_over(&self) -> std::io::Result<()> {
        if let (Outcome::Done(output), Ok(path)) = (self, std::env::var(OUTPUT_FILE_ENV)) {
            retrain_ml::atomic::write_file(Path::new(&path), output.to_string().as_bytes())
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

/// The arguments that start a task instance of a recorded run.
pub fn task_run_args<'a>(pipeline: &'a str, task: &'a str, run_id: &'a str) -> [&'a str; 6] {
    ["task", "run", pipeline, task, "--run-id", run_id]
}

/// Where the output of a task instance's try goes, beside its log.
pub fn output_path(log: &Path) -> PathBuf {
    log.with_extension("output.json")
}

/// The parent's side: the output a task instance that exited 0 wrote, if any.
pub fn read_output(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
