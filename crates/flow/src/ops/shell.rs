//! `shell` (any command, Airflow's BashOperator), `notify` and `gate`
//! (Airflow's ShortCircuitOperator).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Env, OpError, Outcome};
use crate::template;

use crate::protocol::EXIT_SKIPPED as SKIP_EXIT_CODE;

/// Runs `command` with `sh -c` in the project directory (or `cwd`). Its
/// output goes to the task's log with secrets (environment and variables) masked; the last line is
/// the task's output (`outputs.TASK.output`), like Airflow's XCom.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shell {
    command: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
}

impl Shell {
    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(&self.command).envs(&self.env).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn().map_err(|e| format!("cannot start sh: {e}"))?;
        let redactor = env.redactor().clone();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let err_redactor = redactor.clone();
        let errors = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("{}", err_redactor.redact(&line));
            }
        });
        let mut last = String::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            let line = redactor.redact(&line);
            println!("{line}");
            if !line.trim().is_empty() {
                last = line;
            }
        }
        let status = child.wait().await?;
        let _ = errors.await;
        match status.code() {
            Some(0) => Ok(Outcome::Done(json!({"output": last}))),
            Some(SKIP_EXIT_CODE) => Ok(Outcome::Skipped(format!("the command exited with {SKIP_EXIT_CODE}"))),
            Some(code) => Err(format!("the command exited with code {code}").into()),
            None => Err("the command was killed by a signal".into()),
        }
    }
}

/// Sends `message` to notification channels defined in retrain.yaml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    channel: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
    message: String,
}

impl Notify {
    pub fn channels(&self) -> Vec<&str> {
        self.channel.iter().chain(&self.channels).map(String::as_str).collect()
    }

    pub async fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let channels = self.channels();
        if channels.is_empty() {
            return Err("notify needs 'channel' or 'channels'".into());
        }
        env.notifier().send_all(&channels, &self.message).await?;
        println!("sent to {}: {}", channels.join(", "), env.redactor().redact(&self.message));
        Ok(Outcome::Done(json!({"message": self.message, "channels": channels})))
    }
}

/// Skips everything downstream when `condition` is false.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    condition: String,
}

impl Gate {
    pub fn run(&self, env: &Env) -> Result<Outcome, OpError> {
        let holds = template::evaluate(&self.condition, &env.context)?;
        if holds {
            println!("condition holds: {}", self.condition);
        } else {
            println!("condition is false, downstream tasks are skipped: {}", self.condition);
        }
        Ok(Outcome::Done(json!({"condition": holds})))
    }
}
