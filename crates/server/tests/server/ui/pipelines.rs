//! The pipelines pages and their actions: the list, the grid and graph
//! of one pipeline (states of runs inserted through the store, paged over
//! runs), triggering from the params form (typed fields, JSON conf, what
//! is wrong said inline), pause, a run and a task instance with its tries
//! and log (anchored lines, download, the tail from an offset), clearing
//! with what it resets listed first, marking; and who may do what.

use std::path::Path;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use chrono::{TimeZone, Utc};
use retrain_flow::Project;
use retrain_flow::state::{PipelineRun, RunState, TaskInstance, TaskState};
use retrain_flow::store::PipelineStore;
use retrain_registry::{SqlStore, now_ms};

use super::{Browser, escaped, location};
use crate::common::full_app;

const IRIS_TASKS: [&str; 7] =
    ["split", "train", "evaluate", "register", "quality_gate", "deploy", "announce"];

/// An address segment as the pages write it.
fn segment(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

fn run_path(run_id: &str) -> String {
    format!("/pipelines/retrain_iris/runs/{}", segment(run_id))
}

async fn instance(state: &PipelineStore, run_id: &str, task: &str) -> TaskInstance {
    state
        .task_instances("retrain_iris", run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|ti| ti.task == task)
        .unwrap()
}

/// A started run of retrain_iris for the day `day` of November 2026.
async fn started_run(dir: &Path, state: &PipelineStore, day: u32) -> PipelineRun {
    let pipeline = Project::open(dir).unwrap().pipeline("retrain_iris").unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap();
    let mut run = PipelineRun::manual(&pipeline, Some(at), Default::default(), "scheduler", at);
    run.run_id = format!("manual__2026-11-{day:02}T00:00:00+00:00");
    assert!(state.insert_run(&run).await.unwrap());
    let tasks: Vec<(String, u32)> = pipeline.tasks.keys().map(|t| (t.clone(), 2)).collect();
    state.start_run(&run, &tasks).await.unwrap();
    run
}

/// A run whose `split` succeeded and whose `train` failed on its second
/// try, the rest upstream-failed; ended.
async fn failed_run(dir: &Path, store: Arc<SqlStore>, day: u32) -> String {
    let state = PipelineStore::new(store);
    let run = started_run(dir, &state, day).await;
    for mut ti in state.task_instances("retrain_iris", &run.run_id).await.unwrap() {
        (ti.state, ti.try_number) = match ti.task.as_str() {
            "split" => (TaskState::Success, 1),
            "train" => (TaskState::Failed, 2),
            _ => (TaskState::UpstreamFailed, 0),
        };
        ti.started_at = Some(now_ms() - 65_000);
        ti.ended_at = Some(now_ms());
        ti.exit_code = (ti.task == "train").then_some(3);
        state.save(&ti).await.unwrap();
    }
    state.finish_run("retrain_iris", &run.run_id, RunState::Failed).await.unwrap();
    run.run_id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_shows_each_pipeline_its_runs_and_buttons_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    assert_eq!(location(&Browser::new(&app).get("/pipelines").await), "/login?next=%2Fpipelines");

    let vera = Browser::signed_in(&app, "vera").await;
    let list = vera.page("/pipelines").await;
    for shown in [
        "retrain_iris",
        "Iris random forest with a quality gate",
        "@weekly",
        "No runs yet",
        "only when triggered",
    ] {
        assert!(list.contains(shown), "{shown}: {list}");
    }
    assert!(!list.contains("Pause") && !list.contains("Trigger"), "a viewer has no buttons: {list}");

    let run_id = failed_run(dir.path(), store, 1).await;
    let list = vera.page("/pipelines").await;
    assert!(
        list.contains(&format!(r#"class="sq state-failed" href="{}""#, escaped(&run_path(&run_id)))),
        "{list}"
    );

    let ed = Browser::signed_in(&app, "ed").await.page("/pipelines").await;
    assert!(ed.contains(">Pause</button>") && ed.contains("Trigger…"), "{ed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grid_shows_each_runs_task_states_and_the_graph_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let empty = vera.page("/pipelines/retrain_iris").await;
    assert!(empty.contains("No runs yet"), "{empty}");
    for task in IRIS_TASKS {
        assert!(empty.contains(&format!(r#"class="name">{task}</text>"#)), "{task}: {empty}");
    }

    let run_id = failed_run(dir.path(), store, 1).await;
    let grid = vera.page("/pipelines/retrain_iris").await;
    let train = escaped(&format!("{}/tasks/train", run_path(&run_id)));
    assert!(
        grid.contains(&format!(
            r#"class="sq state-failed" href="{train}" title="train · failed · try 2 · 1m 05s""#
        )),
        "{grid}"
    );
    assert!(
        grid.contains(r#"class="sq state-success""#) && grid.contains(r#"class="sq state-upstream_failed""#)
    );
    // The graph is coloured by the newest run, its nodes link to the instances, the gate is a diamond.
    assert!(grid.contains(r#"<g class="node state-failed operator">"#), "{grid}");
    assert!(grid.contains(r#"<g class="node state-upstream_failed gate">"#), "{grid}");
    assert!(grid.contains(&format!(r#"<a href="{}/tasks/split">"#, run_path(&run_id))), "{grid}");
    assert_eq!(grid.matches(r#"class="edge""#).count(), 7, "one per need");
    assert!(!grid.contains("Trigger a run"), "a viewer gets no trigger form");
    // The finished run's duration is charted, under its final state.
    assert!(grid.contains("<figcaption>Run durations</figcaption>"), "{grid}");
    assert!(grid.contains("<title>failed runs: "), "{grid}");
    assert!(!grid.contains("successful runs"), "no line for a state no run ended in: {grid}");

    let sensors = vera.page("/pipelines/train").await;
    assert!(
        sensors.contains(r#"<g class="node state-none sensor">"#) && sensors.contains("sensor:file"),
        "{sensors}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grid_reads_one_page_of_runs_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store);
    for day in 1..=30 {
        started_run(dir.path(), &state, day).await;
    }
    let vera = Browser::signed_in(&app, "vera").await;
    let newest = vera.page("/pipelines/retrain_iris").await;
    let columns = |page: &str| page.matches(r#"<th class="cell">"#).count();
    assert_eq!(columns(&newest), 25);
    assert!(newest.contains("2026-11-30") && !newest.contains("2026-11-05"), "the newest 25");
    let older = format!("before={}", segment("manual__2026-11-06T00:00:00+00:00"));
    assert!(newest.contains(&escaped(&older)), "{newest}");
    let page = vera.page(&format!("/pipelines/retrain_iris?{older}")).await;
    assert_eq!(columns(&page), 5);
    assert!(
        page.contains(&escaped(&format!("after={}", segment("manual__2026-11-05T00:00:00+00:00")))),
        "{page}"
    );
    let small = vera.page("/pipelines/retrain_iris?runs=10").await;
    assert_eq!(columns(&small), 10);
    assert!(small.contains("runs=10"), "paging keeps the page size");

    for (query, status, says) in [
        ("runs=0", StatusCode::BAD_REQUEST, "1 to 100 runs"),
        ("before=nope", StatusCode::NOT_FOUND, "has no run &#x27;nope&#x27;"),
        ("run=nope", StatusCode::NOT_FOUND, "has no run"),
        ("sort=up", StatusCode::BAD_REQUEST, "not understood"),
    ] {
        let reply = vera.get(&format!("/pipelines/retrain_iris?{query}")).await;
        assert_eq!(reply.status, status, "{query}");
        assert!(reply.text().contains(says), "{query}: {}", reply.text());
    }
    let unknown = vera.get("/pipelines/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("There is no pipeline named &#x27;nope&#x27;"), "{}", unknown.text());
}

const TYPED: &str = "name: typed
start_date: 2026-11-01
params: {rows: 100, fast: true, model_name: iris, tags: [a]}
tasks:
  echo: {op: shell, command: 'echo {{ params.rows }}'}
";

#[tokio::test(flavor = "multi_thread")]
async fn the_trigger_form_queues_a_run_with_typed_params_or_a_json_conf() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    std::fs::write(dir.path().join("pipelines/typed.yaml"), TYPED).unwrap();
    let state = PipelineStore::new(store);
    let ed = Browser::signed_in(&app, "ed").await;
    let form = ed.page("/pipelines/typed").await;
    for field in
        [r#"name="param.rows" value="100""#, r#"name="param.model_name" value="iris""#, r#"name="conf""#]
    {
        assert!(form.contains(field), "{field}: {form}");
    }

    let fields = [
        ("param.rows", "250"),
        ("param.fast", "false"),
        ("param.model_name", "x"),
        ("param.tags", "[\"b\"]"),
        ("conf", ""),
        ("logical_date", "2026-11-03"),
    ];
    let reply = ed.post("/pipelines/typed/trigger", &fields).await;
    let runs = state.recent_runs("typed", 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(location(&reply), format!("/pipelines/typed/runs/{}", segment(&runs[0].run_id)));
    assert_eq!(runs[0].state, RunState::Queued);
    assert_eq!(
        serde_json::Value::Object(runs[0].conf.clone()),
        serde_json::json!({"rows": 250, "fast": false, "model_name": "x", "tags": ["b"]})
    );
    assert_eq!(runs[0].interval_start, Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap());
    assert_eq!(runs[0].owner, "scheduler");

    // Run ids of manual runs are the moment to the millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ed.post("/pipelines/typed/trigger", &[("conf", r#"{"rows": 7}"#)]).await;
    let newest = state.recent_runs("typed", 10).await.unwrap();
    assert!(
        newest.iter().any(|r| r.conf.get("rows") == Some(&serde_json::json!(7)) && r.conf.len() == 1),
        "the conf is used instead"
    );

    for (fields, says) in [
        (vec![("conf", "{not json")], "The conf is not valid JSON"),
        (vec![("conf", "[1, 2]")], "The conf must be a JSON object, not a list."),
        (vec![("param.rows", "many")], "params.rows must be a number, not &#x27;many&#x27;."),
        (vec![("logical_date", "yesterday")], "The data interval"),
    ] {
        let reply = ed.post("/pipelines/typed/trigger", &fields).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let page = reply.text();
        assert!(page.contains(r#"class="problem" role="alert""#) && page.contains(says), "{says}: {page}");
        assert!(page.contains(&escaped(fields[0].1)), "what was typed comes back: {page}");
    }
    assert_eq!(state.recent_runs("typed", 10).await.unwrap().len(), 2, "refused forms queue nothing");
    assert_eq!(ed.post("/pipelines/nope/trigger", &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn pausing_from_the_list_pauses_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store);
    let ed = Browser::signed_in(&app, "ed").await;
    let reply = ed.post("/pipelines/train/pause", &[("paused", "true"), ("back", "/pipelines")]).await;
    assert_eq!(location(&reply), "/pipelines");
    assert!(state.paused().await.unwrap().contains("train"));
    let list = ed.page("/pipelines").await;
    assert!(list.contains(">Unpause</button>") && list.contains("none while paused"), "{list}");
    let reply = ed.post("/pipelines/train/pause", &[("paused", "false"), ("back", "//evil.example")]).await;
    assert_eq!(location(&reply), "/pipelines/train", "never back to another site");
    assert!(state.paused().await.unwrap().is_empty());
    assert_eq!(
        ed.post("/pipelines/train/pause", &[("paused", "maybe")]).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_page_lists_its_task_instances() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let run_id = failed_run(dir.path(), store, 2).await;
    let vera = Browser::signed_in(&app, "vera").await;
    let page = vera.page(&run_path(&run_id)).await;
    let task_link = escaped(&format!("{}/tasks/train", run_path(&run_id)));
    for shown in [run_id.as_str(), "2026-11-02 00:00", "upstream_failed", "2 of 2", &task_link] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains("Clear") && !page.contains("Mark success"), "a viewer has no buttons");
    let ed = Browser::signed_in(&app, "ed").await.page(&run_path(&run_id)).await;
    assert!(
        ed.contains("Clear the whole run")
            && ed.contains("Clear the failed tasks")
            && ed.contains("Mark success"),
        "{ed}"
    );
    let missing = vera.get("/pipelines/retrain_iris/runs/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("has no run &#x27;nope&#x27;"), "{}", missing.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn clearing_lists_the_downstream_tasks_then_resets_them() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store.clone());
    let run_id = failed_run(dir.path(), store.clone(), 3).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let confirm = ed.page(&format!("{}/clear?task=train", run_path(&run_id))).await;
    for task in &IRIS_TASKS[1..] {
        assert!(
            confirm.contains(&format!(
                r#"class="mono" href="{}">{task}</a>"#,
                escaped(&format!("{}/tasks/{task}", run_path(&run_id)))
            )),
            "{task}: {confirm}"
        );
    }
    assert!(!confirm.contains(">split</a>"), "split is upstream: {confirm}");
    assert!(
        confirm.contains("Clear 6 task instances") && confirm.contains(r#"name="task" value="train""#),
        "{confirm}"
    );
    assert_eq!(instance(&state, &run_id, "train").await.state, TaskState::Failed, "the page changes nothing");

    let reply = ed.post(&format!("{}/clear", run_path(&run_id)), &[("task", "train")]).await;
    assert_eq!(location(&reply), run_path(&run_id));
    let run = state.get_run("retrain_iris", &run_id).await.unwrap().unwrap();
    assert_eq!((run.state, run.ended_at), (RunState::Running, None));
    let train = instance(&state, &run_id, "train").await;
    assert_eq!((train.state, train.try_number, train.max_tries), (TaskState::NoState, 2, 4));
    assert_eq!(instance(&state, &run_id, "announce").await.state, TaskState::NoState);
    assert_eq!(instance(&state, &run_id, "split").await.state, TaskState::Success);

    // Running now: it cannot be cleared again, and the page says why.
    let busy = ed.post(&format!("{}/clear", run_path(&run_id)), &[]).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(busy.text().contains("is running; it can be cleared once it has ended"), "{}", busy.text());
    assert_eq!(ed.get(&format!("{}/clear", run_path(&run_id))).await.status, StatusCode::CONFLICT);

    let other = failed_run(dir.path(), store, 4).await;
    let failed_only = ed.page(&format!("{}/clear?only=failed", run_path(&other))).await;
    assert!(failed_only.contains("Clear 6 task instances"), "{failed_only}");
    let whole = ed.page(&format!("{}/clear", run_path(&other))).await;
    assert!(whole.contains("Clear 7 task instances"), "{whole}");
    for (query, status) in [("task=nope", StatusCode::NOT_FOUND), ("only=some", StatusCode::BAD_REQUEST)] {
        assert_eq!(ed.get(&format!("{}/clear?{query}", run_path(&other))).await.status, status, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_run_cannot_be_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store);
    let run = started_run(dir.path(), &state, 5).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let page = ed.page(&run_path(&run.run_id)).await;
    assert!(
        page.contains("it can be cleared once it has ended") && !page.contains("Clear the whole run"),
        "{page}"
    );
    let refused = ed.post(&format!("{}/clear", run_path(&run.run_id)), &[("task", "train")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("is running"), "{}", refused.text());
    assert_eq!(instance(&state, &run.run_id, "train").await.message, None, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn marks_set_a_task_instance_and_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store.clone());
    let run_id = failed_run(dir.path(), store, 6).await;
    let ed = Browser::signed_in(&app, "ed").await;
    let task = format!("{}/tasks/train", run_path(&run_id));
    let reply = ed.post(&format!("{task}/mark"), &[("state", "success")]).await;
    assert_eq!(location(&reply), task);
    let train = instance(&state, &run_id, "train").await;
    assert_eq!((train.state, train.message.as_deref()), (TaskState::Success, Some("marked success by ed")));
    let reply = ed.post(&format!("{}/mark", run_path(&run_id)), &[("state", "success")]).await;
    assert_eq!(location(&reply), run_path(&run_id));
    assert_eq!(state.get_run("retrain_iris", &run_id).await.unwrap().unwrap().state, RunState::Success);
    assert_eq!(ed.post(&format!("{task}/mark"), &[("state", "done")]).await.status, StatusCode::BAD_REQUEST);
    let missing = ed.post(&format!("{}/tasks/nope/mark", run_path(&run_id)), &[("state", "failed")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_and_another_site_are_refused_every_action() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store.clone());
    let run_id = failed_run(dir.path(), store, 7).await;
    let actions = [
        ("/pipelines/retrain_iris/trigger".to_owned(), vec![("conf", "{}")]),
        ("/pipelines/retrain_iris/pause".to_owned(), vec![("paused", "true")]),
        (format!("{}/clear", run_path(&run_id)), vec![]),
        (format!("{}/mark", run_path(&run_id)), vec![("state", "success")]),
        (format!("{}/tasks/train/mark", run_path(&run_id)), vec![("state", "success")]),
    ];
    let vera = Browser::signed_in(&app, "vera").await;
    let ed = Browser::signed_in(&app, "ed").await;
    for (path, form) in &actions {
        assert_eq!(vera.post(path, form).await.status, StatusCode::FORBIDDEN, "viewer: {path}");
        assert_eq!(
            ed.post_from(path, form, "cross-site").await.status,
            StatusCode::FORBIDDEN,
            "cross-site: {path}"
        );
    }
    assert_eq!(state.recent_runs("retrain_iris", 10).await.unwrap().len(), 1);
    assert!(state.paused().await.unwrap().is_empty());
    assert_eq!(instance(&state, &run_id, "train").await.state, TaskState::Failed);
    let confirm = vera.page(&format!("{}/clear", run_path(&run_id))).await;
    assert!(
        confirm.contains("Only editors can clear") && !confirm.contains("<button class=\"primary\""),
        "{confirm}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_task_page_shows_tries_arguments_output_and_an_anchored_log() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store.clone());
    let run_id = failed_run(dir.path(), store, 8).await;
    let logs = Project::open(dir.path()).unwrap().logs_dir();
    let log = |n: u32| retrain_flow::executor::log_path(&logs, "retrain_iris", &run_id, "train", n);
    std::fs::create_dir_all(log(1).parent().unwrap()).unwrap();
    std::fs::write(log(1), "first try\nboom\n").unwrap();
    std::fs::write(log(2), "reading data\n<b>not markup</b>\nexit code 3\n").unwrap();
    let mut split = instance(&state, &run_id, "split").await;
    split.output = Some(serde_json::json!({"rows": 150}));
    state.save(&split).await.unwrap();

    let vera = Browser::signed_in(&app, "vera").await;
    let task = format!("{}/tasks/train", run_path(&run_id));
    let page = vera.page(&task).await;
    for shown in [
        r##"<span id="L2"><a class="line" href="#L2">2</a>&lt;b&gt;not markup&lt;&#x2f;b&gt;</span>"##,
        "Log of try 2",
        "ended before try 2",
        &format!("{}/log?try=2", escaped(&task)),
        "data&#x2f;iris&#x2f;20261108&#x2f;train.csv",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(page.contains(r#"<td class="num mono">3</td>"#), "the exit code: {page}");
    assert!(!page.contains("data-tail"), "no live tail for an ended try");
    let first = vera.page(&format!("{task}?try=1")).await;
    assert!(first.contains("boom") && first.contains("Log of try 1"), "{first}");
    let output = vera.page(&format!("{}/tasks/split", run_path(&run_id))).await;
    assert!(output.contains("&quot;rows&quot;: 150"), "{output}");

    let missing_try = vera.get(&format!("{task}?try=5")).await;
    assert_eq!(missing_try.status, StatusCode::NOT_FOUND);
    assert!(missing_try.text().contains("has no try 5; it has had 2"), "{}", missing_try.text());
    let missing_task = vera.get(&format!("{}/tasks/nope", run_path(&run_id))).await;
    assert_eq!(missing_task.status, StatusCode::NOT_FOUND);
    assert!(missing_task.text().contains("no task instance &#x27;nope&#x27;"), "{}", missing_task.text());
    assert_eq!(vera.get(&format!("{task}?try=x")).await.status, StatusCode::BAD_REQUEST);

    let download = vera.get(&format!("{task}/log?try=2")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(download.headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
    assert_eq!(download.text(), "reading data\n<b>not markup</b>\nexit code 3\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_answers_what_follows_an_offset_while_its_try_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    let state = PipelineStore::new(store);
    let run = started_run(dir.path(), &state, 9).await;
    let mut split = instance(&state, &run.run_id, "split").await;
    (split.state, split.try_number, split.started_at) = (TaskState::Running, 1, Some(now_ms()));
    state.save(&split).await.unwrap();
    let logs = Project::open(dir.path()).unwrap().logs_dir();
    let log = retrain_flow::executor::log_path(&logs, "retrain_iris", &run.run_id, "split", 1);
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "one\ntwo\nthr").unwrap();

    let vera = Browser::signed_in(&app, "vera").await;
    let task = format!("{}/tasks/split", run_path(&run.run_id));
    let page = vera.page(&task).await;
    assert!(page.contains(&format!(r#"data-tail="{}/log?try=1""#, escaped(&task))), "{page}");
    assert!(page.contains(r#"data-offset="11""#), "{page}");

    let tail = vera.get(&format!("{task}/log?try=1&offset=4")).await;
    assert_eq!(tail.status, StatusCode::OK);
    assert_eq!(tail.text(), "two\n", "whole lines only while the try writes");
    assert_eq!(tail.headers["x-try-running"], "true");
    assert_eq!(tail.headers["x-log-offset"], "8");
    assert!(!tail.headers.contains_key(header::CONTENT_DISPOSITION));

    split.state = TaskState::Success;
    state.save(&split).await.unwrap();
    let rest = vera.get(&format!("{task}/log?try=1&offset=8")).await;
    assert_eq!(rest.text(), "thr", "all of it once the try has ended");
    assert_eq!(rest.headers["x-try-running"], "false");
    assert_eq!(rest.headers["x-log-offset"], "11");
    let past = vera.get(&format!("{task}/log?try=1&offset=99")).await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert!(past.text().contains("past the log"), "{}", past.text());
    assert_eq!(
        location(&Browser::new(&app).get(&format!("{task}/log?try=1")).await).split('?').next(),
        Some("/login")
    );
}
