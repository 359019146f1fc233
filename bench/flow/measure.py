"""Drives one orchestrator through the benchmark and prints its figures as
one JSON object: start until the API answers, idle memory of every process
it runs, and trigger → success of the 4-task no-op pipeline, repeated.
Both sides are triggered by the same call to Airflow's REST API
(`POST /api/v2/dags/noop/dagRuns`), which `retrain up` also serves.

    measure.py retrain BIN PROJECT_DIR PORT RUNS PIDFILE
    measure.py airflow VENV_BIN AIRFLOW_HOME PORT RUNS PIDFILE

The server's process-group id is appended to PIDFILE as soon as it starts,
so run.sh can stop it even if this script is interrupted. Every wait is
bounded; a run that does not succeed aborts the benchmark.
"""

import datetime
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

SETTLE_S = float(os.environ.get("SETTLE_S", "0"))  # 0: each side's default below


# ---- processes -------------------------------------------------------------


def start(command, cwd, log, pidfile, env=None):
    """Starts `command` as the leader of a new process group (so the group
    can be measured and stopped as a whole) and records its id."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    with open(pidfile, "a") as f:
        f.write(f"{process.pid}\n")
    return process


def processes():
    """(pid, parent pid, process group) of every live process on the machine;
    zombies (exited, not yet reaped) hold no memory and cannot be signalled."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                # The command name may hold spaces and parentheses: split after the last ')'.
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                yield int(name), int(fields[1]), int(fields[2])
        except (OSError, IndexError, ValueError):
            continue


def tree(leader):
    """Every process of the leader's group plus every descendant of the
    leader, in case one of them moved to a group of its own."""
    table = list(processes())
    members = {pid for pid, _, group in table if group == leader or pid == leader}
    grew = True
    while grew:
        new = {pid for pid, parent, _ in table if parent in members and pid not in members}
        members |= new
        grew = bool(new)
    return members


def pss_mib(leader):
    """Proportional set size summed over the leader's tree: shared pages
    (the Python interpreter, libraries) are split between the processes
    that share them, so the sum is the memory the system really costs."""
    total_kib = 0
    for pid in tree(leader):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total_kib += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            continue
    return total_kib / 1024


def stop(process, grace_s=60):
    """SIGTERM to the whole tree, SIGKILL to what is left after grace_s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in tree(process.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if process.poll() is not None and not tree(process.pid):
                return
            time.sleep(0.2)


# ---- measuring ---------------------------------------------------------------


def wait_http(url, started, deadline_s):
    """Seconds from `started` (a monotonic time) until `url` answers 2xx."""
    while time.monotonic() - started < deadline_s:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return time.monotonic() - started
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.005)
    raise SystemExit(f"{url} did not answer within {deadline_s} s")


def settle(leader, seconds):
    """Waits `seconds`, then the idle memory of the leader's tree."""
    time.sleep(seconds)
    return pss_mib(leader)


def api(base, method, path, body=None):
    """One call to Airflow's REST API (retrain serves the same routes);
    no token: Airflow runs with the simple auth manager's all_admins."""
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def summary(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values)}


def retrain(binary, project, port, runs, pidfile):
    env = dict(os.environ, RUST_LOG="warn")

    def cli(*args):
        return subprocess.run([binary, *args], cwd=project, env=env, capture_output=True, text=True,
                              check=True, timeout=60).stdout

    # Creates the state database, as `airflow db migrate` does on the other side.
    cli("pipelines", "list")

    # (1) `retrain pipelines run`: one process that starts, runs the pipeline
    # with an embedded scheduler and tracking server, and exits.
    foreground_s = []
    for _ in range(runs):
        before = time.monotonic()
        out = cli("pipelines", "run", "noop")
        foreground_s.append(time.monotonic() - before)
        assert ": success" in out, out

    # (2) `retrain up`: the long-running scheduler. Runs are triggered
    # through the REST API, as on Airflow's side, then (as a second figure)
    # by `retrain pipelines trigger`; completion is polled in the state
    # database, read-only, every 2 ms (polling the API that often would
    # load the server being measured).
    base = f"http://127.0.0.1:{port}"
    before = time.monotonic()
    server = start([binary, "up", "--host", "127.0.0.1", "--port", str(port)], project,
                   os.path.join(project, "up.log"), pidfile, env)
    try:
        start_s = wait_http(f"{base}/health", before, 60)
        idle = settle(server.pid, SETTLE_S or 5)
        db = f"file:{os.path.join(project, '.retrain', 'retrain.db')}?mode=ro"
        conn = sqlite3.connect(db, uri=True, timeout=5, isolation_level=None)
        run_s, recorded_s, pickup_s, task_s, cli_run_s = [], [], [], [], []
        for i in range(2 * runs):
            from_cli = i >= runs
            before = time.monotonic()
            if from_cli:
                out = cli("pipelines", "trigger", "noop")
                run_id = re.search(r"queued run (\S+)", out).group(1)
            else:
                run_id = api(base, "POST", "/api/v2/dags/noop/dagRuns", {"logical_date": None})["dag_run_id"]
            while True:
                # Outside a transaction every query reads the latest commit.
                row = conn.execute("SELECT state, created_at, started_at, ended_at FROM pipeline_runs "
                                   "WHERE pipeline = 'noop' AND run_id = ?", (run_id,)).fetchone()
                if row and row[0] in ("success", "failed"):
                    break
                if time.monotonic() - before > 60:
                    raise SystemExit(f"retrain run {run_id} did not finish within 60 s")
                time.sleep(0.002)
            if row[0] != "success":
                raise SystemExit(f"retrain run {run_id} ended {row[0]}")
            if from_cli:
                cli_run_s.append(time.monotonic() - before)
                continue
            run_s.append(time.monotonic() - before)
            pickup_s.append((row[2] - row[1]) / 1000)
            recorded_s.append((row[3] - row[2]) / 1000)
            rows = conn.execute("SELECT started_at, ended_at FROM task_instances "
                                "WHERE pipeline = 'noop' AND run_id = ?", (run_id,)).fetchall()
            assert len(rows) == 4, rows
            task_s.extend((end - begin) / 1000 for begin, end in rows)
        return {"start_s": start_s, "idle_pss_mib": idle, "foreground_run_s": summary(foreground_s),
                "run_s": summary(run_s), "recorded_run_s": summary(recorded_s), "pickup_s": summary(pickup_s),
                "task_s": summary(task_s), "per_task_s": statistics.median(run_s) / 4,
                "cli_run_s": summary(cli_run_s)}
    finally:
        stop(server, grace_s=30)


def airflow(venv_bin, home, port, runs, pidfile):
    airflow_bin = os.path.join(venv_bin, "airflow")
    env = dict(os.environ, AIRFLOW_HOME=home, PATH=f"{venv_bin}:{os.environ['PATH']}")
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None):
        return api(base, method, path, body)

    def seconds(a, b):
        return (datetime.datetime.fromisoformat(b) - datetime.datetime.fromisoformat(a)).total_seconds()

    # Creates the metadata database (and airflow.cfg with its generated
    # secrets, shared by every component); not part of the start time.
    before = time.monotonic()
    with open(os.path.join(home, "migrate.log"), "w") as log:
        subprocess.run([airflow_bin, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT,
                       check=True, timeout=600)
    migrate_s = time.monotonic() - before

    # The components `airflow standalone` runs, each as its own process in
    # one process group. The scheduler and triggerer skip their log servers,
    # which standalone would bind to every interface (not configurable).
    components = " & ".join([
        f"airflow api-server --host 127.0.0.1 --port {port}",
        "airflow scheduler --skip-serve-logs",
        "airflow dag-processor",
        "airflow triggerer --skip-serve-logs",
    ])
    before = time.monotonic()
    server = start(["sh", "-c", f"{components} & wait"], home, os.path.join(home, "components.log"), pidfile, env)
    try:
        start_s = wait_http(f"{base}/api/v2/monitor/health", before, 300)
        # Until the scheduler, DAG processor and triggerer all heartbeat.
        while True:
            health = call("GET", "/api/v2/monitor/health")
            if all((health.get(c) or {}).get("status") == "healthy"
                   for c in ("metadatabase", "scheduler", "dag_processor", "triggerer")):
                break
            if time.monotonic() - before > 300:
                raise SystemExit(f"Airflow components not healthy within 300 s: {health}")
            time.sleep(0.1)
        ready_s = time.monotonic() - before
        # Until the DAG file is parsed; it is created unpaused.
        while True:
            try:
                if call("GET", "/api/v2/dags/noop")["is_paused"]:
                    call("PATCH", "/api/v2/dags/noop", {"is_paused": False})
                break
            except urllib.error.HTTPError as e:
                if e.code != 404 or time.monotonic() - before > 300:
                    raise SystemExit(f"the noop DAG was not parsed within 300 s: {e}")
                time.sleep(0.5)
        idle = settle(server.pid, SETTLE_S or 20)
        run_s, recorded_s, pickup_s, task_s = [], [], [], []
        for _ in range(runs):
            before = time.monotonic()
            run_id = call("POST", "/api/v2/dags/noop/dagRuns", {"logical_date": None})["dag_run_id"]
            while True:
                run = call("GET", f"/api/v2/dags/noop/dagRuns/{run_id}")
                if run["state"] in ("success", "failed"):
                    break
                if time.monotonic() - before > 120:
                    raise SystemExit(f"Airflow run {run_id} did not finish within 120 s")
                time.sleep(0.05)
            run_s.append(time.monotonic() - before)
            if run["state"] != "success":
                raise SystemExit(f"Airflow run {run_id} ended {run['state']}")
            pickup_s.append(seconds(run["queued_at"], run["start_date"]))
            recorded_s.append(seconds(run["start_date"], run["end_date"]))
            tis = call("GET", f"/api/v2/dags/noop/dagRuns/{run_id}/taskInstances")["task_instances"]
            assert len(tis) == 4, tis
            task_s.extend(seconds(ti["start_date"], ti["end_date"]) for ti in tis)
        return {"start_s": start_s, "ready_s": ready_s, "migrate_s": migrate_s, "idle_pss_mib": idle,
                "run_s": summary(run_s), "recorded_run_s": summary(recorded_s), "pickup_s": summary(pickup_s),
                "task_s": summary(task_s), "per_task_s": statistics.median(run_s) / 4}
    finally:
        stop(server, grace_s=60)


if __name__ == "__main__":
    kind, program, home, port, runs, pidfile = sys.argv[1:7]
    measure = {"retrain": retrain, "airflow": airflow}[kind]
    print(json.dumps({"system": kind, **measure(program, home, int(port), int(runs), pidfile)}))
