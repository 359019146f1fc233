//! What the scheduler does when a task instance's process ends: success,
//! a skip, a sensor's reschedule, a retry after the policy's delay, or a
//! failure that skips what depends on it and raises an alert.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::executor::{Exit, Finished, log_tail};
use crate::pipeline::Pipeline;
use crate::protocol::{EXIT_NOT_YET, EXIT_SKIPPED};
use crate::state::{TaskInstance, TaskState};
use crate::store;

use super::{Scheduler, ms};

impl Scheduler {
    /// Records how a task instance's try ended.
    pub async fn handle(&mut self, finished: Finished) -> store::Result<()> {
        let launch = &finished.launch;
        let key = (launch.pipeline.clone(), launch.run_id.clone(), launch.task.clone());
        self.running.remove(&key);
        let now = self.clock.now();
        let Some(mut ti) = self
            .state
            .task_instances(&launch.pipeline, &launch.run_id)
            .await?
            .into_iter()
            .find(|ti| ti.task == launch.task)
        else {
            return Ok(());
        };
        let pipeline = self.pipelines.get(&launch.pipeline).cloned();
        let task = pipeline.as_ref().and_then(|p| p.tasks.get(&launch.task)).cloned();
        ti.pid = None;
        ti.ended_at = Some(ms(now));
        ti.exit_code = match finished.exit {
            Exit::Code(code) => Some(code as i64),
            _ => None,
        };
        match finished.exit {
            Exit::Code(0) => {
                ti.state = TaskState::Success;
                ti.message = None;
                ti.output = finished.output.clone();
                self.state.save(&ti).await?;
                let gate_closed = task.as_ref().is_some_and(|t| t.kind == "gate")
                    && ti.output.as_ref().and_then(|o| o.get("condition")) == Some(&Value::Bool(false));
                if gate_closed && let Some(pipeline) = &pipeline {
                    self.skip_downstream(pipeline, &ti, now).await?;
                }
            }
            Exit::Code(EXIT_SKIPPED) => {
                ti.state = TaskState::Skipped;
                ti.message = Some(log_tail(&finished.log, 1));
                self.state.save(&ti).await?;
            }
            Exit::Code(EXIT_NOT_YET) => {
                let sensor = task.as_ref().and_then(|t| t.sensor);
                let waited = now.timestamp_millis() - ti.first_started_at.unwrap_or(ms(now));
                // A poke does not use up a try.
                ti.try_number = ti.try_number.saturating_sub(1);
                ti.message = Some(log_tail(&finished.log, 1));
                match sensor {
                    Some(s) if (waited as u128) < s.timeout.as_millis() => {
                        ti.state = TaskState::UpForReschedule;
                        ti.next_attempt_at = Some(ms(now) + s.poke_interval.as_millis() as i64);
                        self.state.save(&ti).await?;
                    }
                    Some(s) if s.soft_fail => {
                        ti.state = TaskState::Skipped;
                        ti.message =
                            Some(format!("sensor timed out after {:?} (soft_fail: skipped)", s.timeout));
                        self.state.save(&ti).await?;
                    }
                    _ => {
                        // A sensor that times out fails for good: retrying
                        // would only wait longer than the user allowed.
                        ti.state = TaskState::Failed;
                        ti.message =
                            Some(format!("sensor timed out; last poke: {}", log_tail(&finished.log, 1)));
                        self.state.save(&ti).await?;
                        self.alert_failure(&ti, &finished.log);
                    }
                }
            }
            ref exit => {
                let message = match exit {
                    Exit::Code(code) => format!("exited with code {code}"),
                    Exit::Signal => "killed by a signal".to_owned(),
                    Exit::TimedOut(limit) => {
                        format!("timed out after {}s and was killed", limit.as_secs_f64())
                    }
                    Exit::NotStarted(e) => format!("could not be started: {e}"),
                };
                self.fail_try(&mut ti, message, &finished.log, now).await?;
            }
        }
        Ok(())
    }

    /// A try failed: retry after the policy's delay, or fail for good and alert.
    pub(super) async fn fail_try(
        &mut self,
        ti: &mut TaskInstance,
        message: String,
        log: &std::path::Path,
        now: DateTime<Utc>,
    ) -> store::Result<()> {
        let retry = self.pipelines.get(&ti.pipeline).and_then(|p| p.tasks.get(&ti.task)).map(|t| t.retry);
        let tail = log_tail(log, 1);
        ti.message = Some(if tail.is_empty() { message } else { format!("{message}: {tail}") });
        ti.pid = None;
        ti.ended_at = Some(ms(now));
        match retry {
            Some(policy) if ti.try_number < ti.max_tries => {
                let delay = policy.delay_before(ti.try_number + 1);
                ti.state = TaskState::UpForRetry;
                ti.next_attempt_at = Some(ms(now) + delay.as_millis() as i64);
                tracing::warn!(pipeline = %ti.pipeline, run = %ti.run_id, task = %ti.task, try_number = ti.try_number, "task failed, retry in {}s: {}", delay.as_secs_f64(), ti.message.as_deref().unwrap_or(""));
                self.state.save(ti).await
            }
            _ => {
                ti.state = TaskState::Failed;
                tracing::error!(pipeline = %ti.pipeline, run = %ti.run_id, task = %ti.task, try_number = ti.try_number, "task failed: {}", ti.message.as_deref().unwrap_or(""));
                self.state.save(ti).await?;
                self.alert_failure(ti, log);
                Ok(())
            }
        }
    }

    /// A gate closed: everything downstream of it is skipped.
    async fn skip_downstream(
        &mut self,
        pipeline: &Pipeline,
        gate: &TaskInstance,
        now: DateTime<Utc>,
    ) -> store::Result<()> {
        let downstream = pipeline.downstream_of(&gate.task);
        for mut ti in self.state.task_instances(&gate.pipeline, &gate.run_id).await? {
            if downstream.contains(&ti.task) && !ti.state.is_finished() && ti.state != TaskState::Running {
                ti.state = TaskState::Skipped;
                ti.ended_at = Some(ms(now));
                ti.message = Some(format!("skipped: gate '{}' is false", gate.task));
                self.state.save(&ti).await?;
            }
        }
        Ok(())
    }

    fn alert_failure(&mut self, ti: &TaskInstance, log: &std::path::Path) {
        let Some(channels) = self.pipelines.get(&ti.pipeline).map(|p| p.on_failure.clone()) else { return };
        if channels.is_empty() {
            return;
        }
        let text = format!(
            "retrain: task {} of pipeline {} failed\nrun: {}\ntry: {} of {}\nerror: {}\nlog: {}\n{}",
            ti.task,
            ti.pipeline,
            ti.run_id,
            ti.try_number,
            ti.max_tries,
            ti.message.as_deref().unwrap_or(""),
            log.display(),
            log_tail(log, 15)
        );
        self.send_alert(channels, text);
    }

    pub(super) fn send_alert(&mut self, channels: Vec<String>, text: String) {
        let notifier = self.notifier.clone();
        let text = crate::redact::Redactor::from_env().redact(&text);
        self.alerts.spawn(async move { notifier.alert(&channels, &text).await });
    }
}
