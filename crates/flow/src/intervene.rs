//! What people do to runs by hand, besides triggering them: clear task
//! instances so the scheduler runs them again (Airflow's "clear", with
//! what depends on them), and mark a task instance or a whole run
//! succeeded or failed.
//!
//! A clear resets the chosen instances to no state, with a new try to
//! come (the try number stays, so the next launch is the next try and
//! the earlier tries' logs stay), and sets the run back to running for
//! the scheduler of `owner`: its next round decides the reset instances
//! by their trigger rules like any others. A run that is queued or
//! running is left alone: its own scheduler is deciding it.

use std::collections::BTreeSet;

use retrain_registry::{Sql, StoreError, now_ms};

use crate::pipeline::Pipeline;
use crate::state::{PipelineRun, RunState, TaskInstance, TaskState};
use crate::store::PipelineStore;

/// Why an intervention was refused.
#[derive(Debug, thiserror::Error)]
pub enum InterventionError {
    /// The run does not exist.
    #[error("pipeline '{pipeline}' has no run '{run_id}'")]
    UnknownRun {
        /// The pipeline's name.
        pipeline: String,
        /// The run asked for.
        run_id: String,
    },
    /// The run has no instance of that task.
    #[error("run '{run_id}' has no task instance '{task}'")]
    UnknownTask {
        /// The run's id.
        run_id: String,
        /// The task asked for.
        task: String,
    },
    /// The run is queued or running, so it cannot be cleared.
    #[error("run '{run_id}' is {state}; it can be cleared once it has ended")]
    RunActive {
        /// The run's id.
        run_id: String,
        /// Its state, queued or running.
        state: RunState,
    },
    /// The task instance's process is running, so its state is not for
    /// people to set.
    #[error("task '{task}' is {state}; its state is recorded when its try ends")]
    TaskActive {
        /// The task's name.
        task: String,
        /// Its state, queued or running.
        state: TaskState,
    },
    /// The metadata database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a clear resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearScope<'a> {
    /// One task and every task downstream of it (Airflow's "clear downstream").
    Downstream(&'a str),
    /// The failed and upstream-failed task instances.
    Failed,
    /// Every task instance of the run.
    Whole,
}

/// The task instances of a run that a clear of `scope` resets, in the
/// pipeline's task order.
pub fn to_clear<'a>(
    pipeline: &Pipeline,
    instances: &'a [TaskInstance],
    scope: ClearScope<'_>,
) -> Vec<&'a TaskInstance> {
    let chosen: BTreeSet<String> = match scope {
        ClearScope::Downstream(task) => {
            let mut tasks = pipeline.downstream_of(task);
            tasks.insert(task.to_owned());
            tasks
        }
        ClearScope::Failed => instances
            .iter()
            .filter(|ti| matches!(ti.state, TaskState::Failed | TaskState::UpstreamFailed))
            .map(|ti| ti.task.clone())
            .collect(),
        ClearScope::Whole => instances.iter().map(|ti| ti.task.clone()).collect(),
    };
    let mut cleared: Vec<&TaskInstance> = instances.iter().filter(|ti| chosen.contains(&ti.task)).collect();
    let order = |ti: &&TaskInstance| pipeline.tasks.get_index_of(&ti.task).unwrap_or(usize::MAX);
    cleared.sort_by_key(order);
    cleared
}

fn where_run(sql: &mut Sql, pipeline: &str, run_id: &str) {
    sql.push(" WHERE pipeline = ").text_arg(pipeline).push(" AND run_id = ").text_arg(run_id);
}

impl PipelineStore {
    async fn ended_run(&self, pipeline: &str, run_id: &str) -> Result<PipelineRun, InterventionError> {
        let run = self.get_run(pipeline, run_id).await?.ok_or_else(|| InterventionError::UnknownRun {
            pipeline: pipeline.to_owned(),
            run_id: run_id.to_owned(),
        })?;
        if matches!(run.state, RunState::Queued | RunState::Running) {
            return Err(InterventionError::RunActive { run_id: run.run_id, state: run.state });
        }
        Ok(run)
    }

    /// Clears the task instances `scope` names in an ended run of
    /// `pipeline`, as `actor`, and hands the run to the scheduler of
    /// `owner`; returns the tasks reset, in task order.
    pub async fn clear(
        &self,
        pipeline: &Pipeline,
        run_id: &str,
        scope: ClearScope<'_>,
        owner: &str,
        actor: &str,
    ) -> Result<Vec<String>, InterventionError> {
        self.ended_run(&pipeline.name, run_id).await?;
        let instances = self.task_instances(&pipeline.name, run_id).await?;
        if let ClearScope::Downstream(task) = scope
            && !instances.iter().any(|ti| ti.task == task)
        {
            return Err(InterventionError::UnknownTask { run_id: run_id.to_owned(), task: task.to_owned() });
        }
        let cleared: Vec<String> =
            to_clear(pipeline, &instances, scope).into_iter().map(|ti| ti.task.clone()).collect();
        let mut tx = self.store.write().await?;
        for task in &cleared {
            // The task's tries start over: as many again as its policy allows.
            let tries = pipeline.tasks.get(task).map_or(1, |t| t.retry.retries + 1);
            let mut sql = Sql::new("UPDATE task_instances SET state = ");
            sql.text_arg(TaskState::NoState.as_str())
                .push(", max_tries = try_number + ")
                .int_arg(i64::from(tries))
                .push(
                    ", next_attempt_at = NULL, first_started_at = NULL, started_at = NULL, ended_at = NULL, \
                     pid = NULL, exit_code = NULL, output = NULL, message = ",
                )
                .text_arg(format!("cleared by {actor}"));
            where_run(&mut sql, &pipeline.name, run_id);
            tx.execute(sql.push(" AND task = ").text_arg(task.clone())).await?;
        }
        if !cleared.is_empty() {
            let mut sql = Sql::new("UPDATE pipeline_runs SET state = ");
            sql.text_arg(RunState::Running.as_ref()).push(", ended_at = NULL, owner = ").text_arg(owner);
            where_run(&mut sql, &pipeline.name, run_id);
            tx.execute(&sql).await?;
        }
        tx.commit().await?;
        Ok(cleared)
    }

    /// Sets a task instance's state to success or failed by hand, as
    /// `actor`; refused while its try runs. In a running run the
    /// scheduler goes on from there at its next round.
    pub async fn mark_task(
        &self,
        pipeline: &str,
        run_id: &str,
        task: &str,
        state: TaskState,
        actor: &str,
    ) -> Result<(), InterventionError> {
        let Some(mut ti) =
            self.task_instances(pipeline, run_id).await?.into_iter().find(|ti| ti.task == task)
        else {
            if self.get_run(pipeline, run_id).await?.is_none() {
                return Err(InterventionError::UnknownRun {
                    pipeline: pipeline.to_owned(),
                    run_id: run_id.to_owned(),
                });
            }
            return Err(InterventionError::UnknownTask { run_id: run_id.to_owned(), task: task.to_owned() });
        };
        if matches!(ti.state, TaskState::Running | TaskState::Queued) {
            return Err(InterventionError::TaskActive { task: ti.task, state: ti.state });
        }
        ti.state = state;
        ti.ended_at = ti.ended_at.or(Some(now_ms()));
        ti.next_attempt_at = None;
        ti.message = Some(format!("marked {state} by {actor}"));
        self.save(&ti).await?;
        Ok(())
    }

    /// Ends a run as success or failed by hand, as `actor`: its task
    /// instances that have not ended become success (or, for a failed
    /// run, skipped), except those whose try is running, whose end is
    /// recorded when it comes.
    pub async fn mark_run(
        &self,
        pipeline: &str,
        run_id: &str,
        state: RunState,
        actor: &str,
    ) -> Result<(), InterventionError> {
        if self.get_run(pipeline, run_id).await?.is_none() {
            return Err(InterventionError::UnknownRun {
                pipeline: pipeline.to_owned(),
                run_id: run_id.to_owned(),
            });
        }
        let task_state = if state == RunState::Success { TaskState::Success } else { TaskState::Skipped };
        for mut ti in self.task_instances(pipeline, run_id).await? {
            if ti.state.is_finished() || matches!(ti.state, TaskState::Running | TaskState::Queued) {
                continue;
            }
            ti.state = task_state;
            ti.ended_at = Some(now_ms());
            ti.next_attempt_at = None;
            ti.message = Some(format!("run marked {state} by {actor}"));
            self.save(&ti).await?;
        }
        self.finish_run(pipeline, run_id, state).await?;
        Ok(())
    }
}
