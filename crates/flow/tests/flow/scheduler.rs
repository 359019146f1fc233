//! The scheduler under a clock moved by hand, each test once on SQLite
//! and once on PostgreSQL (skipped, and said so, unless
//! `RETRAIN_TEST_POSTGRES_URL` names a server): catchup
//! creates one run per interval, `max_active_runs` holds the rest back,
//! task order follows `needs`, and a failing task is retried after its
//! exponentially growing delay — not a moment before — then fails the run.
//!
//! Task instances are real child processes; the program they run is a
//! small script that stands in for `retrain task run` (whose own behaviour
//! the CLI's tests cover) so that only the scheduler is under test here.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use retrain_flow::executor::Launcher;
use retrain_flow::runs::{self, Bootstrap};
use retrain_flow::scheduler::{Clock, ManualClock, Options, Scheduler};
use retrain_flow::state::{RunState, RunType, TaskState};
use retrain_flow::store::PipelineStore;
use retrain_flow::{Project, pipeline};
use retrain_registry::{SqlStore, per_backend};

per_backend! {
    catchup_order_and_retries_with_backoff_follow_the_clock: catchup_and_retries_on_sqlite, catchup_and_retries_on_postgres;
    variables_and_pauses_are_kept: variables_and_pauses_on_sqlite, variables_and_pauses_on_postgres;
    the_first_start_backfills_the_bootstrap_pipeline_once: bootstrap_on_sqlite, bootstrap_on_postgres;
}

const PIPELINE: &str = "name: daily
schedule: '@daily'
start_date: 2026-11-01
catchup: true
max_active_runs: 1
tasks:
  extract: {op: shell, command: 'true'}
  load: {op: shell, command: 'false', needs: [extract], retries: 2, retry_delay: 10m, retry_exponential_backoff: true}
";

/// Runs ticks until `count` task instances have finished and been recorded.
async fn finish(scheduler: &mut Scheduler, count: usize) {
    for _ in 0..count {
        let finished = scheduler.next_finished(Duration::from_secs(20)).await.expect("a task instance ends");
        scheduler.handle(finished).await.unwrap();
    }
}

async fn instance(state: &PipelineStore, run_id: &str, task: &str) -> retrain_flow::state::TaskInstance {
    state.task_instances("daily", run_id).await.unwrap().into_iter().find(|t| t.task == task).unwrap()
}

async fn catchup_order_and_retries_with_backoff_follow_the_clock(backend: &str, store: SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("retrain.yaml"), "parallelism: 4\n").unwrap();
    // Stands in for `retrain task run PIPELINE TASK --run-id ID`: `load` fails.
    let program = root.join("task.sh");
    std::fs::write(&program, "#!/bin/sh\necho \"$@\"\n[ \"$4\" = load ] && exit 1\nexit 0\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = Project::open(root).unwrap();
    let pipeline = pipeline::parse(PIPELINE, Path::new("daily.yaml")).unwrap();

    let state = PipelineStore::new(Arc::new(store));
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 30).unwrap()));
    let launcher = Launcher {
        program: program.clone(),
        root: root.to_path_buf(),
        logs: root.join(format!("logs-{backend}")),
        env: Vec::new(),
        sign_in: None,
    };
    let options = Options { owner: "test".into(), create_scheduled_runs: true, parallelism: 4 };
    let mut scheduler =
        Scheduler::new(&project, vec![pipeline.clone()], state.clone(), launcher, clock.clone(), options);

    // Two complete days: two runs, one running at a time.
    scheduler.tick().await.unwrap();
    let runs = state.active_runs("test").await.unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["scheduled__2026-11-01T00:00:00Z", "scheduled__2026-11-02T00:00:00Z"]);
    assert_eq!(runs.iter().map(|r| r.state).collect::<Vec<_>>(), [RunState::Running, RunState::Queued]);
    let first = ids[0].to_owned();
    assert_eq!(scheduler.running(), 1, "only extract may start");

    finish(&mut scheduler, 1).await;
    assert_eq!(instance(&state, &first, "extract").await.state, TaskState::Success);
    scheduler.tick().await.unwrap();
    finish(&mut scheduler, 1).await;
    let load = instance(&state, &first, "load").await;
    assert_eq!((load.state, load.try_number), (TaskState::UpForRetry, 1));
    let log = root.join(format!("logs-{backend}/daily/{first}/load/1.log"));
    assert!(std::fs::read_to_string(&log).unwrap().contains("task run daily load --run-id"));

    // Not before the 10 minutes are up; then the second try.
    clock.advance(Duration::from_secs(9 * 60));
    scheduler.tick().await.unwrap();
    assert_eq!(scheduler.running(), 0);
    clock.advance(Duration::from_secs(60));
    scheduler.tick().await.unwrap();
    assert_eq!(scheduler.running(), 1);
    finish(&mut scheduler, 1).await;
    // The delay doubles: 20 minutes before the third try.
    clock.advance(Duration::from_secs(19 * 60));
    scheduler.tick().await.unwrap();
    assert_eq!(scheduler.running(), 0);
    clock.advance(Duration::from_secs(60));
    scheduler.tick().await.unwrap();
    finish(&mut scheduler, 1).await;
    let load = instance(&state, &first, "load").await;
    assert_eq!((load.state, load.try_number, load.max_tries), (TaskState::Failed, 3, 3));
    assert!(load.message.unwrap_or_default().contains("exited with code 1"));

    // The first run fails; the second starts.
    scheduler.tick().await.unwrap();
    let run = state.get_run("daily", &first).await.unwrap().unwrap();
    assert_eq!(run.state, RunState::Failed);
    let active = state.active_runs("test").await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].state, RunState::Running);
    assert_eq!(scheduler.running(), 1);
    finish(&mut scheduler, 1).await;

    // Nothing new is due until the next day ends.
    scheduler.tick().await.unwrap();
    assert_eq!(state.recent_runs("daily", 10).await.unwrap().len(), 2);
    clock.advance(Duration::from_secs(24 * 3600));
    assert!(clock.now() > Utc.with_ymd_and_hms(2026, 11, 4, 0, 0, 0).unwrap());
    scheduler.tick().await.unwrap();
    assert_eq!(state.recent_runs("daily", 10).await.unwrap().len(), 3);
}

async fn variables_and_pauses_are_kept(backend: &str, store: SqlStore) {
    let state = PipelineStore::new(Arc::new(store));
    state.set_variable("min_accuracy", "0.9", false).await.unwrap();
    state.set_variable("min_accuracy", "0.95", false).await.unwrap();
    state.set_variable("note", "hello", false).await.unwrap();
    let stored = state.get_variable("min_accuracy").await.unwrap().unwrap();
    assert_eq!((stored.value.as_str(), stored.encrypted), ("0.95", false), "{backend}");
    let (vars, secrets) = state.template_variables().await.unwrap();
    assert!(secrets.is_empty());
    assert_eq!(vars["min_accuracy"], serde_json::json!(0.95));
    assert_eq!(vars["note"], serde_json::json!("hello"));
    assert!(state.set_variable("bad name", "x", false).await.is_err());
    assert!(state.delete_variable("note").await.unwrap());
    assert!(!state.delete_variable("note").await.unwrap());
    state.set_paused("daily", true).await.unwrap();
    assert!(state.paused().await.unwrap().contains("daily"));
    state.set_paused("daily", false).await.unwrap();
    assert!(state.paused().await.unwrap().is_empty());
}

async fn the_first_start_backfills_the_bootstrap_pipeline_once(backend: &str, store: SqlStore) {
    let store = PipelineStore::new(Arc::new(store));
    let pipeline = pipeline::parse(PIPELINE, Path::new("daily.yaml")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    let setting = Bootstrap { pipeline: "daily".into(), days: 3 };
    let pipelines = [pipeline];
    // A bootstrap pipeline that is not loaded queues nothing, on a store
    // that has no run yet.
    let missing = Bootstrap { pipeline: "nope".into(), days: 3 };
    assert_eq!(runs::bootstrap(&missing, &pipelines, &store, "up", now).await.unwrap(), 0);
    assert!(store.active_runs("up").await.unwrap().is_empty());
    assert_eq!(runs::bootstrap(&setting, &pipelines, &store, "up", now).await.unwrap(), 3, "{backend}");
    let queued = store.active_runs("up").await.unwrap();
    let ids: Vec<&str> = queued.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "backfill__2026-11-17T00:00:00Z",
            "backfill__2026-11-18T00:00:00Z",
            "backfill__2026-11-19T00:00:00Z"
        ]
    );
    assert!(queued.iter().all(|r| r.run_type == RunType::Backfill && r.state == RunState::Queued));
    // Not on later starts.
    assert_eq!(runs::bootstrap(&setting, &pipelines, &store, "up", now).await.unwrap(), 0);
}
