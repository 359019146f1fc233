//! Pipelines as a user runs them: `retrain init`, `pipelines check` on
//! good and bad files, every shipped pipeline end to end in a temporary
//! project (tasks are real child processes talking to a real tracking
//! server), retries, timeouts, trigger rules, gates, alerts to a local
//! HTTP receiver and SMTP sink, and recovery after `kill -9`.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::str::contains;

use crate::common::{free_port, read, retrain, write};

/// A project from `retrain init`, with a small forest so debug builds
/// train quickly, and no pipelines but those a test writes (unless it
/// keeps the shipped ones).
fn project(keep_shipped: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    retrain(dir.path()).arg("init").assert().success().stdout(contains("created retrain.yaml"));
    write(
        dir.path(),
        "configs/random_forest.yaml",
        "name: rf-small\nmodel: random_forest\nparams: {n_estimators: 15, max_depth: 6}\nseed: 42\n",
    );
    if !keep_shipped {
        fs::remove_dir_all(dir.path().join("pipelines")).unwrap();
        fs::create_dir_all(dir.path().join("pipelines")).unwrap();
    }
    dir
}

/// A local HTTP server that answers every request with `{"ok": true}`
/// and keeps the request bodies.
fn http_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap_or(0);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap_or(());
            sink.lock().unwrap().push(format!("{} {}", request_line.trim(), String::from_utf8_lossy(&body)));
            let answer = "{\"ok\": true}";
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, received)
}

/// A local SMTP sink (plain text, no TLS) that keeps each message's data.
fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut out = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            let _ = out.write_all(b"220 sink ESMTP\r\n");
            let mut data: Option<String> = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(message) = data.as_mut() {
                    if line == ".\r\n" {
                        sink.lock().unwrap().push(data.take().unwrap_or_default());
                        let _ = out.write_all(b"250 queued\r\n");
                    } else {
                        message.push_str(&line);
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" | "HELO" => b"250 sink\r\n",
                    "DATA" => {
                        data = Some(String::new());
                        b"354 go ahead\r\n"
                    }
                    "QUIT" => {
                        let _ = out.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = out.write_all(reply);
            }
        }
    });
    (port, received)
}

#[test]
fn init_scaffolds_a_project_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    retrain(d).arg("init").assert().success();
    for file in
        ["retrain.yaml", "pipelines/train.yaml", "pipelines/predict.yaml", "configs/random_forest.yaml"]
    {
        assert!(d.join(file).is_file(), "{file} missing");
    }
    write(d, "pipelines/train.yaml", "# mine\n");
    retrain(d).arg("init").assert().success().stdout(contains("nothing written"));
    assert_eq!(read(d, "pipelines/train.yaml"), "# mine\n");
    // Outside a project, commands say what to do.
    let empty = tempfile::tempdir().unwrap();
    retrain(empty.path()).args(["pipelines", "list"]).assert().code(2).stderr(contains("retrain init"));
}

#[test]
fn the_shipped_pipelines_pass_check() {
    let dir = project(true);
    retrain(dir.path()).args(["pipelines", "check"]).assert().success().stdout(contains("6 pipelines OK"));
}

#[test]
fn check_names_the_file_and_line_of_every_mistake() {
    let dir = project(false);
    let d = dir.path();
    let head = "name: NAME\nstart_date: 2026-11-01\non_failure: [alert]\ntasks:\n";
    let cases = [
        ("yaml", "name: yaml\ntasks: [unclosed\n", "yaml.yaml:"),
        ("unknown_op", "  a: {op: teleport}\n", "unknown_op.yaml:5: task 'a': unknown op 'teleport'"),
        ("unknown_field", "  a: {op: shell, command: x, colour: red}\n", "unknown_field.yaml:5:"),
        (
            "cycle",
            "  a: {op: shell, command: x, needs: [b]}\n  b: {op: shell, command: x, needs: [a]}\n",
            "cycle",
        ),
        ("undefined", "  a: {op: shell, command: 'echo {{ data_day }}'}\n", "undefined variable 'data_day'"),
        (
            "missing_config",
            "  a: {op: train, config: configs/nope.yaml, data: iris, output: m}\n",
            "configs/nope.yaml' does not exist",
        ),
        ("channel", "  a: {op: notify, channel: pager, message: hi}\n", "channel 'pager' is not defined"),
        (
            "ok",
            "  a: {op: shell, command: x}\n",
            "ok.yaml: pipeline name 'ok' is already used by pipelines/dup.yaml",
        ),
        ("dup", "  a: {op: shell, command: x}\n", "ok.yaml"),
    ];
    for (name, body, _) in &cases {
        let text = if body.starts_with("name:") {
            body.to_string()
        } else {
            format!("{}{body}", head.replace("NAME", if *name == "dup" { "ok" } else { name }))
        };
        write(d, &format!("pipelines/{name}.yaml"), &text);
    }
    // One file with several faults: each is listed, none hides the next.
    write(
        d,
        "pipelines/several.yaml",
        "name: several\non_failure: [pager]\ntasks:\n  a: {op: teleport}\n  b: {op: shell, command: x, needs: [z]}\n",
    );
    let output = retrain(d).args(["pipelines", "check"]).assert().code(2).get_output().stderr.clone();
    let stderr = String::from_utf8_lossy(&output);
    assert!(stderr.contains("9 of 10 pipeline files have errors"), "{stderr}");
    for (name, _, expected) in cases {
        assert!(stderr.contains(expected), "{name}: expected {expected:?} in\n{stderr}");
    }
    for expected in [
        "several.yaml: 'start_date' is missing",
        "several.yaml: notification channel 'pager' is not defined",
        "several.yaml:4: task 'a': unknown op 'teleport'",
        "several.yaml:5: task 'b' needs unknown task 'z'",
    ] {
        assert!(stderr.contains(expected), "expected {expected:?} in\n{stderr}");
    }
}

#[test]
fn shipped_pipelines_run_end_to_end() {
    let dir = project(true);
    let d = dir.path();
    let (telegram, messages) = http_receiver();
    let config = read(d, "retrain.yaml").replace(
        "    chat_id_env: TELEGRAM_CHAT_ID\n",
        &format!("    chat_id_env: TELEGRAM_CHAT_ID\n    base_url: {telegram}\n"),
    );
    write(d, "retrain.yaml", &config);

    // A week of data, then the weekly training for the week starting 2026-11-15.
    retrain(d)
        .args(["pipelines", "backfill", "generate_data", "--from", "2026-11-15", "--to", "2026-11-21"])
        .assert()
        .success();
    for day in 15..=21 {
        assert!(d.join(format!("data/raw/2026-11-{day}/data.csv")).is_file());
    }
    // A pipeline sensor sees generate_data's run for the same day.
    write(
        d,
        "pipelines/after_data.yaml",
        "name: after_data\nschedule: '@daily'\nstart_date: 2026-11-01\ntasks:\n  wait: {sensor: pipeline, pipeline: generate_data, poke_interval: 1s, timeout: 3s}\n",
    );
    retrain(d).args(["pipelines", "run", "after_data", "--ds", "2026-11-16"]).assert().success();
    retrain(d).args(["pipelines", "run", "after_data", "--ds", "2026-11-25"]).assert().code(1);
    fs::remove_file(d.join("pipelines/after_data.yaml")).unwrap();

    retrain(d).args(["pipelines", "run", "train", "--ds", "2026-11-15"]).assert().success();
    assert!(d.join("data/processed/2026-11-15/train.csv").is_file());
    assert!(d.join("data/models/2026-11-15/validation.json").is_file());
    let notes = read(d, "logs/notifications.log");
    assert!(notes.contains("model synthetic v1 is the new champion"), "{notes}");
    let runs = retrain(d).args(["pipelines", "runs", "train"]).assert().success().get_output().stdout.clone();
    let runs = String::from_utf8_lossy(&runs);
    assert!(runs.contains("success") && runs.contains("promote"), "{runs}");

    // A second week: registered as v2, promoted only if it beats v1.
    retrain(d).args(["pipelines", "run", "train", "--ds", "2026-11-19"]).assert().success();
    let notes = read(d, "logs/notifications.log");
    assert!(notes.contains("v2"), "{notes}");

    // Daily predictions with the champion, the version in every row.
    retrain(d).args(["pipelines", "run", "predict", "--ds", "2026-11-21"]).assert().success();
    let predictions = read(d, "data/predictions/2026-11-21/predictions.csv");
    let mut lines = predictions.lines();
    assert_eq!(lines.next(), Some("prediction,model_version"));
    assert_eq!(lines.clone().count(), 2000);
    assert!(lines.all(|l| l.ends_with(",synthetic/1") || l.ends_with(",synthetic/2")), "{predictions:.200}");
    // A pinned model directory wins over the champion.
    retrain(d).args(["variables", "set", "model_path", "data/models/2026-11-15"]).assert().success();
    retrain(d).args(["pipelines", "run", "predict", "--ds", "2026-11-20"]).assert().success();
    assert!(read(d, "data/predictions/2026-11-20/predictions.csv").contains(",data/models/2026-11-15"));
    retrain(d).args(["variables", "delete", "model_path"]).assert().success();

    // Iris with the gate open: deployed and announced on Telegram.
    let telegram_env = |cmd: &mut Command| {
        cmd.env("TELEGRAM_BOT_TOKEN", "123:secret-token").env("TELEGRAM_CHAT_ID", "42");
    };
    let mut cmd = retrain(d);
    telegram_env(&mut cmd);
    cmd.args(["pipelines", "run", "retrain_iris"]).assert().success();
    {
        let got = messages.lock().unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("POST /bot123:secret-token/sendMessage"), "{}", got[0]);
        assert!(got[0].contains("iris-rf v1 deployed, accuracy"), "{}", got[0]);
    }
    // The gate closed: deploy and announce are skipped, the run succeeds.
    retrain(d).args(["variables", "set", "min_accuracy", "1.01"]).assert().success();
    let mut cmd = retrain(d);
    telegram_env(&mut cmd);
    let out = cmd.args(["pipelines", "run", "retrain_iris"]).assert().success().get_output().stdout.clone();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("deploy                 skipped") && out.contains("announce               skipped"),
        "{out}"
    );
    assert_eq!(messages.lock().unwrap().len(), 1);

    // Configs dropped into the inbox: the good one is trained and
    // registered, the bad one moves to failed/ with the reason.
    write(d, "configs/inbox/tree.yaml", "name: wine-tree\nmodel: decision_tree\nparams: {max_depth: 4}\n");
    write(
        d,
        "configs/inbox/broken.json",
        "{\"name\": \"x\", \"model\": \"random_forest\", \"params\": {\"n_trees\": 5}}",
    );
    retrain(d).args(["pipelines", "run", "train_from_configs"]).assert().success();
    assert!(d.join("configs/done/tree.yaml").is_file());
    assert!(d.join("configs/failed/broken.json").is_file());
    assert!(read(d, "configs/failed/broken.json.error").contains("n_trees"));
    assert!(!d.join("configs/inbox/tree.yaml").exists());

    // Every version scored on the fixed holdout; the best becomes champion.
    retrain(d).args(["pipelines", "run", "promote_best"]).assert().success();
    let log = fs::read_dir(d.join("logs/promote_best")).unwrap().flatten().next().unwrap().path();
    let elect = read(&log, "elect/1.log");
    assert!(elect.contains("version 1: accuracy") && elect.contains("version 2: accuracy"), "{elect}");
}

#[test]
fn a_task_instance_registers_at_most_one_version() {
    let dir = project(false);
    let d = dir.path();
    write(
        d,
        "pipelines/reg.yaml",
        "name: reg\nstart_date: 2026-11-01\ntasks:\n  train: {op: train, config: configs/random_forest.yaml, data: iris, output: m}\n  register: {op: register, needs: [train], model: m, name: iris-once}\n",
    );
    retrain(d).args(["pipelines", "run", "reg"]).assert().success();
    let runs =
        String::from_utf8_lossy(&retrain(d).args(["pipelines", "runs", "reg"]).output().unwrap().stdout)
            .to_string();
    let run_id = runs.split_whitespace().next().unwrap().to_owned();
    // The same instance again (a retry after a crash) finds its version.
    let tracking = start_server(d);
    for _ in 0..2 {
        retrain(d)
            .env("MLFLOW_TRACKING_URI", &tracking.url)
            .args(["task", "run", "reg", "register", "--run-id", &run_id])
            .assert()
            .success();
    }
    let models = retrain(d)
        .env("MLFLOW_TRACKING_URI", &tracking.url)
        .args(["models", "show", "iris-once"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&models.stdout);
    let versions: Vec<&str> = shown.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(versions.len(), 1, "{shown}");
    assert!(versions[0].starts_with("1 "), "{shown}");
    // The version's run holds the metrics of every set the model was
    // measured on: here the training set, as no validation data was given.
    let address = tracking.url.trim_start_matches("http://");
    let (_, version) = api(address, "GET", "/api/2.0/mlflow/model-versions/get?name=iris-once&version=1", "");
    let run_id = version["model_version"]["run_id"].as_str().unwrap().to_owned();
    let (_, run) = api(address, "GET", &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), "");
    let logged: Vec<&str> =
        run["run"]["data"]["metrics"].as_array().unwrap().iter().filter_map(|m| m["key"].as_str()).collect();
    for key in ["training_accuracy", "training_f1_macro", "training_log_loss"] {
        assert!(logged.contains(&key), "{key} not in {logged:?}");
    }
}

struct Server {
    url: String,
    child: std::process::Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `GET /health` answers 200.
fn wait_for_health(url: &str) {
    let address = url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            let _ = write!(stream, "GET /health HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not answer");
}

/// `retrain server` on the project's database, on a free port.
fn start_server(d: &Path) -> Server {
    let (child, address) = spawn(d, &["server"], &[]);
    Server { url: format!("http://{address}"), child }
}

/// Starts a long-running `retrain` command (`up`, `server`, `serve`) in
/// `d` on `port` and waits until it answers `/health`.
fn spawn_on(d: &Path, args: &[&str], port: u16, env: &[(&str, &str)]) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("retrain"))
        .current_dir(d)
        .env_remove("MLFLOW_TRACKING_URI")
        .env("RETRAIN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .envs(env.iter().copied())
        .args(args)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_health(&format!("http://127.0.0.1:{port}"));
    child
}

/// [`spawn_on`] a free port; returns the child and its `127.0.0.1:PORT`.
fn spawn(d: &Path, args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let port = free_port();
    (spawn_on(d, args, port, env), format!("127.0.0.1:{port}"))
}

#[test]
fn retries_timeouts_trigger_rules_and_alerts() {
    let dir = project(false);
    let d = dir.path();
    let (hook, received) = http_receiver();
    let (smtp_port, mails) = smtp_sink();
    let config = format!(
        "notifications:\n  alert: {{type: log}}\n  hook: {{type: webhook, url: '{hook}'}}\n  mail: {{type: email, host: 127.0.0.1, port: {smtp_port}, tls: none, from: 'retrain <r@example.com>', to: [ops@example.com]}}\n  down: {{type: webhook, url: 'http://127.0.0.1:{}/'}}\n",
        free_port()
    );
    write(d, "retrain.yaml", &config);
    write(
        d,
        "pipelines/flaky.yaml",
        "name: flaky
start_date: 2026-11-01
default_args: {retries: 2, retry_delay: 1s, retry_exponential_backoff: true}
on_failure: [hook, mail, down]
tasks:
  fails: {op: shell, command: 'echo try $RETRAIN_TRY_NUMBER >> tries.txt; echo boom >&2; exit 3'}
  slow: {op: shell, command: 'sleep 20', timeout: 1s, retries: 0}
  after_all: {op: shell, command: 'echo done > all_done.txt', needs: [fails, slow], trigger_rule: all_done}
  on_failure: {op: shell, command: 'echo cleanup > cleanup.txt', needs: [fails], trigger_rule: one_failed}
  never: {op: shell, command: 'echo no > never.txt', needs: [fails]}
  waits: {sensor: file, path: nothing-here, poke_interval: 1s, timeout: 2s, soft_fail: true}
  skip_me: {op: shell, command: 'exit 99'}
  after_skip: {op: shell, command: 'echo x > after_skip.txt', needs: [skip_me]}
  leaky: {op: shell, command: 'echo the token is $DEPLOY_API_TOKEN'}
",
    );
    let started = Instant::now();
    let out = retrain(d)
        .env("DEPLOY_API_TOKEN", "tok-9f8e7d6c")
        .args(["pipelines", "run", "flaky"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    // Three tries with 1 s, then 2 s between them.
    assert_eq!(read(d, "tries.txt"), "try 1\ntry 2\ntry 3\n");
    assert!(started.elapsed() >= Duration::from_secs(3));
    for (task, state) in [
        ("fails", "failed"),
        ("slow", "failed"),
        ("after_all", "success"),
        ("on_failure", "success"),
        ("never", "upstream_failed"),
        ("waits", "skipped"),
        ("skip_me", "skipped"),
        ("after_skip", "skipped"),
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(task) && l.contains(state)),
            "{task} {state}:\n{out}"
        );
    }
    assert!(out.contains("timed out after 1s"), "{out}");
    assert!(d.join("all_done.txt").exists() && d.join("cleanup.txt").exists());
    assert!(!d.join("never.txt").exists() && !d.join("after_skip.txt").exists());
    let log = fs::read_dir(d.join("logs/flaky")).unwrap().flatten().next().unwrap().path();
    assert!(read(&log, "fails/3.log").contains("boom"));
    // Secrets from the environment never reach a log.
    assert_eq!(read(&log, "leaky/1.log").trim(), "the token is ***");
    // Alerts for both failed tasks on the webhook and by mail, with what
    // an on-call engineer needs; the channel that is down did not stop them.
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    let fails_alert = hooks.iter().find(|h| h.contains("task fails")).expect("alert for fails");
    for part in
        ["pipeline flaky", "run: manual__", "try: 3 of 3", "exited with code 3", "fails/3.log", "boom"]
    {
        assert!(fails_alert.contains(part), "{part} missing in {fails_alert}");
    }
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails.iter().any(|m| m.contains("Subject: retrain: task fails of pipeline flaky failed")),
        "{mails:?}"
    );
}

#[test]
fn up_recovers_after_kill_9() {
    let dir = project(false);
    let d = dir.path();
    write(
        d,
        "pipelines/long.yaml",
        "name: long
start_date: 2026-11-01
default_args: {retries: 1, retry_delay: 1s}
tasks:
  work: {op: shell, command: 'sleep 3; echo try $RETRAIN_TRY_NUMBER >> work.txt'}
  then: {op: shell, command: 'echo then >> then.txt', needs: [work]}
",
    );
    let port = free_port();
    let mut first = spawn_on(d, &["up"], port, &[]);
    retrain(d).args(["pipelines", "trigger", "long"]).assert().success();
    // Kill the scheduler while `work` runs.
    let log_dir = d.join("logs/long");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(log_dir.exists() && walk_has(&log_dir, "1.log")) {
        assert!(Instant::now() < deadline, "work never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = spawn_on(d, &["up"], port, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = retrain(d).args(["pipelines", "runs", "long"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.lines().next().is_some_and(|l| l.contains(" success ")) {
            assert!(text.contains("work                   success           try 2/2"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "the run did not complete after restart:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    second.kill().unwrap();
    second.wait().unwrap();
    // The interrupted try was killed with its process group: only the
    // retry wrote its line, and the downstream task ran once.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(read(d, "work.txt"), "try 2\n");
    assert_eq!(read(d, "then.txt"), "then\n");
}

#[test]
fn up_stops_cleanly_on_sigterm_and_puts_running_tasks_back() {
    let dir = project(false);
    let d = dir.path();
    write(
        d,
        "pipelines/long.yaml",
        "name: long\nstart_date: 2026-11-01\ntasks:\n  work: {op: shell, command: 'sleep 30'}\n",
    );
    let (mut up, _) = spawn(d, &["up"], &[]);
    retrain(d).args(["pipelines", "trigger", "long"]).assert().success();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !walk_has(&d.join("logs"), "1.log") {
        assert!(Instant::now() < deadline, "work never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &up.id().to_string()]).status().unwrap();
    let status = up.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() < Duration::from_secs(15));
    let out = retrain(d).args(["pipelines", "runs", "long"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("up_for_retry      try 0/1  interrupted by a scheduler shutdown"), "{text}");
}

fn walk_has(dir: &Path, name: &str) -> bool {
    fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let p = e.path();
        if p.is_dir() { walk_has(&p, name) } else { p.file_name().is_some_and(|n| n == name) }
    })
}

/// The first admin's password of the servers [`spawn_on`] starts.
const ADMIN_PASSWORD: &str = "admin-password-of-the-tests";

/// `Authorization` for `user` with `password` (HTTP Basic).
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Sends one HTTP request as the first admin and returns the status line,
/// headers and body.
fn http(address: &str, method: &str, path: &str, content_type: &str, body: &str) -> String {
    http_as(address, Some(&basic("admin", ADMIN_PASSWORD)), method, path, content_type, body)
}

/// [`http`] with `authorization`, or without credentials.
fn http_as(
    address: &str,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let credentials = authorization.map(|a| format!("authorization: {a}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\n{credentials}content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn up_from_scratch_registers_a_champion_predicts_and_serves_it() {
    let dir = project(true);
    let d = dir.path();
    // No admin password given: one is generated and kept for its owner.
    let (mut up, address) = spawn(d, &["up"], &[("RETRAIN_ADMIN_PASSWORD", "")]);
    let kept = d.join(".retrain/admin_password");
    let password = fs::read_to_string(&kept).unwrap().trim().to_owned();
    assert!(password.len() >= 12, "{password}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let predictions = d.join(format!("data/predictions/{yesterday}/predictions.csv"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !predictions.is_file() {
        if Instant::now() > deadline {
            let _ = up.kill();
            panic!("no predictions for {yesterday} within 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    up_checks(d, &address, &predictions, &basic("admin", &password));
    std::process::Command::new("kill").args(["-TERM", &up.id().to_string()]).status().unwrap();
    assert!(up.wait().unwrap().success());
    no_secret_in_files(d, &password);
    // A restart keeps the admin's password.
    let (mut again, address) = spawn(d, &["up"], &[("RETRAIN_ADMIN_PASSWORD", "")]);
    assert_eq!(fs::read_to_string(&kept).unwrap().trim(), password);
    let answer =
        http_as(&address, Some(&basic("admin", &password)), "GET", "/api/v2/dags", "application/json", "");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// No log, no database file and nothing else the project keeps holds
/// `password` or a token's secret (every token starts with `rt_`), but
/// the file that keeps the admin's password for its owner.
fn no_secret_in_files(dir: &Path, password: &str) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            no_secret_in_files(&path, password);
        } else if !path.ends_with(".retrain/admin_password") {
            let bytes = fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(password), "{} holds the admin password", path.display());
            let token = text
                .match_indices("rt_")
                .any(|(at, _)| text[at + 3..].chars().take(64).filter(char::is_ascii_hexdigit).count() == 64);
            assert!(!token, "{} holds a token", path.display());
        }
    }
}

fn up_checks(d: &Path, address: &str, predictions: &Path, authorization: &str) {
    // The 14 days of data the first start backfills.
    for days in 1..=14 {
        let day = (chrono::Utc::now() - chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
        assert!(d.join(format!("data/raw/{day}/data.csv")).is_file(), "{day}");
    }
    let text = fs::read_to_string(predictions).unwrap();
    assert!(text.lines().skip(1).all(|l| l.ends_with(",synthetic/1")), "{text:.300}");
    // The champion answers on the same port, in MLflow's protocol.
    let row: Vec<String> = (0..20).map(|i| format!("\"f{i}\": 0.1")).collect();
    let body = format!("{{\"dataframe_records\": [{{{}}}]}}", row.join(", "));
    let anonymous =
        http_as(address, None, "POST", "/models/synthetic/invocations", "application/json", &body);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    let answer = http_as(
        address,
        Some(authorization),
        "POST",
        "/models/synthetic/invocations",
        "application/json",
        &body,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-retrain-model-version: 1"), "{answer}");
    assert!(answer.contains("{\"predictions\":["), "{answer}");
    let missing = http_as(
        address,
        Some(authorization),
        "POST",
        "/models/synthetic/invocations",
        "application/json",
        "{\"instances\": [{\"f0\": 1}]}",
    );
    assert!(missing.starts_with("HTTP/1.1 400") && missing.contains("missing column(s) 'f1'"), "{missing}");
}

#[test]
fn serve_and_predict_take_a_registry_uri() {
    let dir = project(false);
    let d = dir.path();
    // Register a model through a pipeline, then serve it by alias.
    write(
        d,
        "pipelines/iris.yaml",
        "name: iris\nstart_date: 2026-11-01\ntasks:\n  train: {op: train, config: configs/random_forest.yaml, data: iris, output: m}\n  register: {op: register, needs: [train], model: m, name: iris}\n  deploy: {op: promote, needs: [register], name: iris, version: '{{ outputs.register.version }}', only_if_better: false}\n",
    );
    let tracking = start_server(d);
    retrain(d)
        .env("MLFLOW_TRACKING_URI", &tracking.url)
        .args(["pipelines", "run", "iris"])
        .assert()
        .success();
    retrain(d)
        .args(["serve", "--model", "models:/iris@champion"])
        .assert()
        .code(2)
        .stderr(contains("MLFLOW_TRACKING_URI"));
    write(d, "rows.csv", "petal_width,petal_length,sepal_width,sepal_length\n0.2,1.4,3.5,5.1\n");
    retrain(d)
        .env("MLFLOW_TRACKING_URI", &tracking.url)
        .args(["predict", "--model", "models:/iris@champion", "--input", "rows.csv", "--output", "out.csv"])
        .assert()
        .success();
    assert_eq!(read(d, "out.csv"), "prediction,model_version\nsetosa,iris/1\n");
    let (mut serve, address) =
        spawn(d, &["serve", "--model", "models:/iris@champion"], &[("MLFLOW_TRACKING_URI", &tracking.url)]);
    let answer = http(
        &address,
        "POST",
        "/invocations",
        "text/csv",
        "sepal_length,sepal_width,petal_length,petal_width\n6.7,3.0,5.2,2.3\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("{\"predictions\":[\"virginica\"]}"),
        "{answer}"
    );
    assert!(
        answer.contains("x-retrain-model: iris") && answer.contains("x-retrain-model-version: 1"),
        "{answer}"
    );
    let _ = serve.kill();
    let _ = serve.wait();
}

/// One request to a JSON API: the status and the decoded body.
fn api(address: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let answer = http(address, method, path, "application/json", body);
    let status = answer[9..12].parse().unwrap_or_else(|_| panic!("{answer}"));
    let (_, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{answer}"));
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}")))
}

/// Polls a run through the API until it has ended.
fn wait_for_run(address: &str, pipeline: &str, run_id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, run) = api(address, "GET", &format!("/api/v2/dags/{pipeline}/dagRuns/{run_id}"), "");
        assert_eq!(status, 200, "{run}");
        if run["state"] == "success" || run["state"] == "failed" {
            return run;
        }
        assert!(Instant::now() < deadline, "run {run_id} did not end: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn airflow_rest_api_triggers_pauses_and_watches_runs() {
    let dir = project(false);
    let d = dir.path();
    write(
        d,
        "pipelines/greet.yaml",
        "name: greet
description: says hello
start_date: 2026-11-01
params: {greeting: hello}
tasks:
  say: {op: shell, command: 'echo {{ params.greeting }} {{ ds }} >> said.txt'}
  then: {op: shell, command: 'printf %s \"$MLFLOW_TRACKING_TOKEN\" > token.txt', needs: [say]}
",
    );
    write(
        d,
        "pipelines/wave.yaml",
        "name: wave\nstart_date: 2026-11-01\ntasks:\n  x: {op: shell, command: 'true'}\n",
    );
    let (mut up, address) = spawn(d, &["up"], &[]);
    let a = address.as_str();

    let (status, dags) = api(a, "GET", "/api/v2/dags", "");
    assert_eq!(status, 200);
    assert_eq!(dags["total_entries"], 2, "{dags}");
    assert_eq!(dags["dags"][0]["dag_id"], "greet");
    assert_eq!(dags["dags"][0]["description"], "says hello");
    assert_eq!(dags["dags"][0]["is_paused"], false);
    let (status, page) = api(a, "GET", "/api/v2/dags?limit=1&offset=1&tags=ignored", "");
    assert_eq!(status, 200, "{page}");
    assert_eq!((page["total_entries"].as_i64(), page["dags"].as_array().map(Vec::len)), (Some(2), Some(1)));
    assert_eq!(page["dags"][0]["dag_id"], "wave");
    let (status, bad) = api(a, "GET", "/api/v2/dags?limit=-1", "");
    assert_eq!(status, 422, "{bad}");

    // A trigger with conf and a logical date: the task sees both.
    let (status, run) = api(
        a,
        "POST",
        "/api/v2/dags/greet/dagRuns",
        r#"{"dag_run_id": "api-1", "logical_date": "2026-11-20", "conf": {"greeting": "hi"}}"#,
    );
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["dag_run_id"], "api-1");
    assert_eq!(run["logical_date"], "2026-11-20T00:00:00.000000Z");
    assert_eq!(run["run_type"], "manual");
    assert_eq!(run["conf"]["greeting"], "hi");
    let run = wait_for_run(a, "greet", "api-1");
    assert_eq!(run["state"], "success", "{run}");
    assert!(run["duration"].as_f64().is_some_and(|s| s >= 0.0), "{run}");
    assert_eq!(read(d, "said.txt"), "hi 2026-11-20\n");
    // The task had a token of its own, which ended with it.
    let token = read(d, "token.txt");
    assert!(token.starts_with("rt_"), "{token}");
    let ended = http_as(a, Some(&format!("Bearer {token}")), "GET", "/api/v2/dags", "application/json", "");
    assert!(ended.starts_with("HTTP/1.1 401"), "{ended}");
    // Airflow's sign-in gives a token that works, in Airflow's shapes.
    let credentials = format!(r#"{{"username": "admin", "password": "{ADMIN_PASSWORD}"}}"#);
    let signed = http_as(a, None, "POST", "/auth/token", "application/json", &credentials);
    assert!(signed.starts_with("HTTP/1.1 201"), "{signed}");
    let (_, body) = signed.split_once("\r\n\r\n").unwrap();
    let access: serde_json::Value = serde_json::from_str(body).unwrap();
    let bearer = format!("Bearer {}", access["access_token"].as_str().unwrap());
    assert!(
        http_as(a, Some(&bearer), "GET", "/api/v2/dags", "application/json", "").starts_with("HTTP/1.1 200")
    );
    let anonymous = http_as(a, None, "GET", "/api/v2/dags", "application/json", "");
    assert!(anonymous.starts_with("HTTP/1.1 401") && anonymous.contains("\"detail\""), "{anonymous}");
    let (status, tis) = api(a, "GET", "/api/v2/dags/greet/dagRuns/api-1/taskInstances", "");
    assert_eq!(status, 200);
    assert_eq!(tis["total_entries"], 2, "{tis}");
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["state"], "success", "{ti}");
        assert_eq!(ti["try_number"], 1);
        assert_eq!(ti["operator"], "op:shell");
    }

    // The same run id twice is a conflict; nothing else is queued.
    let (status, conflict) = api(a, "POST", "/api/v2/dags/greet/dagRuns", r#"{"dag_run_id": "api-1"}"#);
    assert_eq!(status, 409, "{conflict}");

    // A paused pipeline keeps a triggered run queued until it is unpaused.
    let (status, dag) = api(a, "PATCH", "/api/v2/dags/greet", r#"{"is_paused": true}"#);
    assert_eq!((status, &dag["is_paused"]), (200, &serde_json::json!(true)), "{dag}");
    let (_, paused) = api(a, "GET", "/api/v2/dags?paused=true", "");
    assert_eq!(
        (paused["total_entries"].as_i64(), &paused["dags"][0]["dag_id"]),
        (Some(1), &serde_json::json!("greet"))
    );
    let (_, active) = api(a, "GET", "/api/v2/dags?paused=false", "");
    assert_eq!(
        (active["total_entries"].as_i64(), &active["dags"][0]["dag_id"]),
        (Some(1), &serde_json::json!("wave"))
    );
    let (_, run) = api(a, "POST", "/api/v2/dags/greet/dagRuns", r#"{"logical_date": null}"#);
    let run_id = run["dag_run_id"].as_str().unwrap().to_owned();
    assert!(run_id.starts_with("manual__"), "{run}");
    std::thread::sleep(Duration::from_millis(1500));
    let (_, waiting) = api(a, "GET", &format!("/api/v2/dags/greet/dagRuns/{run_id}"), "");
    assert_eq!(waiting["state"], "queued", "{waiting}");
    api(a, "PATCH", "/api/v2/dags/greet", r#"{"is_paused": false}"#);
    assert_eq!(wait_for_run(a, "greet", &run_id)["state"], "success");
    assert_eq!(read(d, "said.txt").lines().nth(1).unwrap().split(' ').next(), Some("hello"));

    let (status, page) = api(a, "GET", "/api/v2/dags/greet/dagRuns?order_by=-id&limit=1", "");
    assert_eq!(status, 200);
    assert_eq!(page["total_entries"], 2, "{page}");
    assert_eq!(page["dag_runs"].as_array().unwrap().len(), 1);
    assert_eq!(page["dag_runs"][0]["dag_run_id"], run_id.as_str());

    let (status, health) = api(a, "GET", "/api/v2/monitor/health", "");
    assert_eq!(status, 200);
    assert_eq!(health["metadatabase"]["status"], "healthy", "{health}");
    assert_eq!(health["scheduler"]["status"], "healthy", "{health}");

    // Every mistake is a 4xx in FastAPI's shape, naming what is wrong.
    let cases = [
        ("POST", "/api/v2/dags/nope/dagRuns", "{}", 404, "`nope` was not found"),
        ("GET", "/api/v2/dags/greet/dagRuns/nope", "", 404, "run_id: `nope` was not found"),
        ("POST", "/api/v2/dags/greet/dagRuns", "{bad", 422, "JSON decode error"),
        ("POST", "/api/v2/dags/greet/dagRuns", r#"{"conf": [1]}"#, 422, "\"conf\""),
        ("POST", "/api/v2/dags/greet/dagRuns", r#"{"logical_date": "soon"}"#, 422, "not a date"),
        ("POST", "/api/v2/dags/greet/dagRuns", r#"{"dag_run_id": "a/b"}"#, 422, "dag_run_id"),
        ("POST", "/api/v2/dags/greet/dagRuns", r#"{"note": "x"}"#, 422, "unknown field `note`"),
        ("PATCH", "/api/v2/dags/greet", r#"{"is_paused": "yes"}"#, 422, "is_paused"),
        ("GET", "/api/v2/dags/greet/dagRuns?order_by=conf", "", 400, "Ordering with 'conf'"),
        ("GET", "/api/v2/dags/greet/dagRuns?limit=-1", "", 422, "limit"),
    ];
    for (method, path, body, expected, says) in cases {
        let (status, answer) = api(a, method, path, body);
        assert_eq!(status, expected, "{method} {path} {body}: {answer}");
        assert!(answer["detail"].to_string().contains(says), "{method} {path} {body}: {answer}");
    }
    let (_, page) = api(a, "GET", "/api/v2/dags/greet/dagRuns", "");
    assert_eq!(page["total_entries"], 2, "bad requests queued nothing: {page}");

    up.kill().unwrap();
    up.wait().unwrap();
}
