//! Clearing and marking runs by hand, each test once on SQLite and once
//! on PostgreSQL: a cleared failed task runs again under the scheduler
//! (with what depends on it) and the run then succeeds; a run still
//! running cannot be cleared; marks set the states asked for.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use retrain_flow::executor::Launcher;
use retrain_flow::intervene::{ClearScope, InterventionError, to_clear};
use retrain_flow::scheduler::{ManualClock, Options, Scheduler};
use retrain_flow::state::{RunState, TaskState};
use retrain_flow::store::{PipelineStore, RunCursor};
use retrain_flow::{Project, pipeline};
use retrain_registry::{SqlStore, per_backend};

per_backend! {
    a_cleared_failed_task_runs_again_and_its_run_succeeds: clear_on_sqlite, clear_on_postgres;
    marks_set_the_states_asked_for: marks_on_sqlite, marks_on_postgres;
    runs_are_paged_by_their_bounds: paging_on_sqlite, paging_on_postgres;
}

const PIPELINE: &str = "name: daily
schedule: '@daily'
start_date: 2026-11-01
tasks:
  extract: {op: shell, command: 'true'}
  load: {op: shell, command: 'false', needs: [extract]}
  report: {op: shell, command: 'true', needs: [load]}
  other: {op: shell, command: 'true'}
";

async fn states(state: &PipelineStore, run_id: &str) -> Vec<(String, TaskState, u32)> {
    let mut instances = state.task_instances("daily", run_id).await.unwrap();
    instances.sort_by(|a, b| a.task.cmp(&b.task));
    instances.into_iter().map(|ti| (ti.task, ti.state, ti.try_number)).collect()
}

/// Rounds of the scheduler until nothing runs and the run has ended.
async fn drive(scheduler: &mut Scheduler, state: &PipelineStore, run_id: &str) -> RunState {
    for _ in 0..20 {
        scheduler.tick().await.unwrap();
        while scheduler.running() > 0 {
            let finished = scheduler.next_finished(Duration::from_secs(20)).await.expect("a task ends");
            scheduler.handle(finished).await.unwrap();
        }
        let run = state.get_run("daily", run_id).await.unwrap().unwrap();
        if !matches!(run.state, RunState::Queued | RunState::Running) {
            return run.state;
        }
    }
    panic!("run {run_id} did not end");
}

async fn a_cleared_failed_task_runs_again_and_its_run_succeeds(backend: &str, store: SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("retrain.yaml"), "parallelism: 4\n").unwrap();
    // Stands in for `retrain task run`: `load` fails until the file `fixed` exists.
    let program = root.join("task.sh");
    std::fs::write(
        &program,
        "#!/bin/sh\necho \"$@\"\n[ \"$4\" = load ] && [ ! -f fixed ] && exit 1\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = Project::open(root).unwrap();
    let pipeline = pipeline::parse(PIPELINE, Path::new("daily.yaml")).unwrap();
    let state = PipelineStore::new(Arc::new(store));
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 30).unwrap()));
    let logs = root.join(format!("logs-{backend}"));
    let launcher =
        Launcher { program, root: root.to_path_buf(), logs: logs.clone(), env: Vec::new(), sign_in: None };
    // A run another scheduler drove: clearing hands it to this one.
    let options = Options { owner: "up".into(), create_scheduled_runs: false, parallelism: 4 };
    let mut scheduler =
        Scheduler::new(&project, vec![pipeline.clone()], state.clone(), launcher, clock, options);
    let interval = pipeline.schedule.interval_at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
    let run_id = scheduler
        .create_run(&pipeline, retrain_flow::state::RunType::Manual, interval, Default::default())
        .await
        .unwrap()
        .unwrap();

    // While it runs it cannot be cleared.
    scheduler.tick().await.unwrap();
    let refused = state.clear(&pipeline, &run_id, ClearScope::Whole, "up", "ed").await.unwrap_err();
    assert!(matches!(refused, InterventionError::RunActive { state: RunState::Running, .. }), "{refused}");
    assert_eq!(drive(&mut scheduler, &state, &run_id).await, RunState::Failed, "{backend}");
    let failed = states(&state, &run_id).await;
    assert!(failed.contains(&("load".into(), TaskState::Failed, 1)), "{failed:?}");
    assert!(failed.contains(&("report".into(), TaskState::UpstreamFailed, 0)), "{failed:?}");

    // What a clear of `load` resets: it and what depends on it, in task order.
    let instances = state.task_instances("daily", &run_id).await.unwrap();
    let chosen: Vec<&str> = to_clear(&pipeline, &instances, ClearScope::Downstream("load"))
        .iter()
        .map(|ti| ti.task.as_str())
        .collect();
    assert_eq!(chosen, ["load", "report"]);
    let failed_only: Vec<&str> =
        to_clear(&pipeline, &instances, ClearScope::Failed).iter().map(|ti| ti.task.as_str()).collect();
    assert_eq!(failed_only, ["load", "report"]);
    assert_eq!(to_clear(&pipeline, &instances, ClearScope::Whole).len(), 4);
    let unknown =
        state.clear(&pipeline, &run_id, ClearScope::Downstream("nope"), "up", "ed").await.unwrap_err();
    assert!(matches!(unknown, InterventionError::UnknownTask { .. }), "{unknown}");

    std::fs::write(root.join("fixed"), "").unwrap();
    let cleared = state.clear(&pipeline, &run_id, ClearScope::Downstream("load"), "up", "ed").await.unwrap();
    assert_eq!(cleared, ["load", "report"]);
    let run = state.get_run("daily", &run_id).await.unwrap().unwrap();
    assert_eq!((run.state, run.ended_at, run.owner.as_str()), (RunState::Running, None, "up"));
    let load =
        state.task_instances("daily", &run_id).await.unwrap().into_iter().find(|t| t.task == "load").unwrap();
    assert_eq!((load.state, load.try_number, load.max_tries), (TaskState::NoState, 1, 2));
    assert_eq!(load.message.as_deref(), Some("cleared by ed"));

    // The scheduler takes it up again: load's second try succeeds, report runs, the run succeeds.
    assert_eq!(drive(&mut scheduler, &state, &run_id).await, RunState::Success);
    let after = states(&state, &run_id).await;
    assert!(after.contains(&("load".into(), TaskState::Success, 2)), "{after:?}");
    assert!(after.contains(&("report".into(), TaskState::Success, 1)), "{after:?}");
    assert!(after.contains(&("extract".into(), TaskState::Success, 1)), "not run again: {after:?}");
    for try_number in [1, 2] {
        let log = retrain_flow::executor::log_path(&logs, "daily", &run_id, "load", try_number);
        assert!(log.is_file(), "{}", log.display());
    }
}

async fn marks_set_the_states_asked_for(backend: &str, store: SqlStore) {
    let state = PipelineStore::new(Arc::new(store));
    let pipeline = pipeline::parse(PIPELINE, Path::new("daily.yaml")).unwrap();
    let run = retrain_flow::state::PipelineRun::manual(&pipeline, None, Default::default(), "up", Utc::now());
    state.insert_run(&run).await.unwrap();
    let tasks: Vec<(String, u32)> = pipeline.tasks.keys().map(|t| (t.clone(), 1)).collect();
    state.start_run(&run, &tasks).await.unwrap();
    let mut extract = state
        .task_instances("daily", &run.run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.task == "extract")
        .unwrap();
    extract.state = TaskState::Running;
    state.save(&extract).await.unwrap();

    let busy = state.mark_task("daily", &run.run_id, "extract", TaskState::Success, "ed").await.unwrap_err();
    assert!(matches!(busy, InterventionError::TaskActive { .. }), "{backend}: {busy}");
    state.mark_task("daily", &run.run_id, "other", TaskState::Failed, "ed").await.unwrap();
    let missing = state.mark_task("daily", "nope", "other", TaskState::Failed, "ed").await.unwrap_err();
    assert!(matches!(missing, InterventionError::UnknownRun { .. }), "{missing}");

    state.mark_run("daily", &run.run_id, RunState::Failed, "ed").await.unwrap();
    let marked = states(&state, &run.run_id).await;
    assert_eq!(
        marked,
        [
            ("extract".into(), TaskState::Running, 0),
            ("load".into(), TaskState::Skipped, 0),
            ("other".into(), TaskState::Failed, 0),
            ("report".into(), TaskState::Skipped, 0),
        ],
        "a running try is left to end; what had not run is skipped"
    );
    let ended = state.get_run("daily", &run.run_id).await.unwrap().unwrap();
    assert_eq!(ended.state, RunState::Failed);
    assert!(ended.ended_at.is_some());
}

async fn runs_are_paged_by_their_bounds(backend: &str, store: SqlStore) {
    let state = PipelineStore::new(Arc::new(store));
    let pipeline = pipeline::parse(PIPELINE, Path::new("daily.yaml")).unwrap();
    for day in 1..=7 {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap();
        let run = retrain_flow::state::PipelineRun::manual(&pipeline, Some(at), Default::default(), "up", at);
        state.insert_run(&run).await.unwrap();
    }
    let day = |runs: &[retrain_flow::state::PipelineRun]| -> Vec<u32> {
        runs.iter().map(|r| r.interval_start.format("%d").to_string().parse().unwrap()).collect()
    };
    let newest = state.runs_page("daily", RunCursor::Newest, 3).await.unwrap();
    assert_eq!(day(&newest), [7, 6, 5], "{backend}");
    let older = state.runs_page("daily", RunCursor::Before(&newest[2]), 3).await.unwrap();
    assert_eq!(day(&older), [4, 3, 2]);
    let back = state.runs_page("daily", RunCursor::After(&older[0]), 3).await.unwrap();
    assert_eq!(day(&back), [7, 6, 5], "newer ones, the newest first");
    let ids: Vec<String> = older.iter().map(|r| r.run_id.clone()).collect();
    assert!(state.task_instances_of_runs("daily", &ids).await.unwrap().is_empty());
}
