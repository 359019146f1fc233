//! The scheduler's pure decisions, Airflow's rules: when a task may run
//! given its upstream tasks' states, and how a run ends given its tasks'.

use crate::pipeline::TriggerRule;
use crate::state::{RunState, TaskState};

/// Whether a task whose upstream tasks are in `upstream` states should
/// run now (`Scheduled`), be skipped or marked upstream_failed, or wait
/// (`None`).
pub fn trigger_decision(rule: TriggerRule, upstream: &[TaskState]) -> Option<TaskState> {
    let all_done = upstream.iter().all(|s| s.is_finished());
    let any_failed = upstream.iter().any(|s| matches!(s, TaskState::Failed | TaskState::UpstreamFailed));
    let any_skipped = upstream.contains(&TaskState::Skipped);
    match rule {
        TriggerRule::AllSuccess if any_failed => Some(TaskState::UpstreamFailed),
        TriggerRule::AllSuccess if any_skipped => Some(TaskState::Skipped),
        TriggerRule::AllSuccess if all_done => Some(TaskState::Scheduled),
        TriggerRule::AllDone if all_done => Some(TaskState::Scheduled),
        TriggerRule::OneFailed if any_failed => Some(TaskState::Scheduled),
        TriggerRule::OneFailed if all_done => Some(TaskState::Skipped),
        TriggerRule::NoneFailed if any_failed => Some(TaskState::UpstreamFailed),
        TriggerRule::NoneFailed if all_done => Some(TaskState::Scheduled),
        _ => None,
    }
}

/// The state of a run whose task instances are all finished: failed if
/// any failed (or could not run because one did), else success.
pub fn run_outcome(states: &[TaskState]) -> Option<RunState> {
    if !states.iter().all(|s| s.is_finished()) {
        return None;
    }
    let failed = states.iter().any(|s| matches!(s, TaskState::Failed | TaskState::UpstreamFailed));
    Some(if failed { RunState::Failed } else { RunState::Success })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    #[test]
    fn trigger_rules_follow_airflow() {
        use TriggerRule::*;
        assert_eq!(trigger_decision(AllSuccess, &[]), Some(Scheduled));
        assert_eq!(trigger_decision(AllSuccess, &[Success, Running]), None);
        assert_eq!(trigger_decision(AllSuccess, &[Success, Success]), Some(Scheduled));
        assert_eq!(trigger_decision(AllSuccess, &[Failed, Running]), Some(UpstreamFailed));
        assert_eq!(trigger_decision(AllSuccess, &[Skipped, Success]), Some(Skipped));
        assert_eq!(trigger_decision(AllDone, &[Failed, Running]), None);
        assert_eq!(trigger_decision(AllDone, &[Failed, Skipped]), Some(Scheduled));
        assert_eq!(trigger_decision(OneFailed, &[Failed, Running]), Some(Scheduled));
        assert_eq!(trigger_decision(OneFailed, &[Success, Success]), Some(Skipped));
        assert_eq!(trigger_decision(OneFailed, &[Success, UpForRetry]), None);
        assert_eq!(trigger_decision(NoneFailed, &[Skipped, Success]), Some(Scheduled));
        assert_eq!(trigger_decision(NoneFailed, &[UpstreamFailed, Success]), Some(UpstreamFailed));
    }

    #[test]
    fn a_run_fails_when_any_task_failed() {
        assert_eq!(run_outcome(&[Success, Skipped]), Some(RunState::Success));
        assert_eq!(run_outcome(&[Success, UpstreamFailed]), Some(RunState::Failed));
        assert_eq!(run_outcome(&[Success, UpForRetry]), None);
    }
}
