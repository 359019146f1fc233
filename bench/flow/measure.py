"""Drives one orchestrator through the benchmark and prints its figures as
JSON: start until the API answers, idle memory of its whole process group,
and trigger → success of a 4-task no-op run, repeated.

    measure.py retrain BIN PROJECT_DIR PORT RUNS
    measure.py airflow AIRFLOW_BIN AIRFLOW_HOME PORT RUNS
"""

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request


def wait_http(url, deadline_s=300):
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        try:
            urllib.request.urlopen(url, timeout=1)
            return time.monotonic() - started
        except OSError:
            time.sleep(0.005)
    raise SystemExit(f"{url} did not answer within {deadline_s} s")


def group_pss_mib(pgid):
    """Proportional set size summed over every process of a process group."""
    total_kib = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total_kib / 1024


def summary(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values)}


def retrain(binary, project, port, runs):
    env = dict(os.environ, RUST_LOG="warn")
    started = time.monotonic()
    server = subprocess.Popen([binary, "up", "--port", str(port)], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        start_s = wait_http(f"http://127.0.0.1:{port}/health")
        time.sleep(3)
        idle = group_pss_mib(server.pid)
        db = os.path.join(project, ".retrain", "retrain.db")
        run_s, task_s = [], []
        for _ in range(runs):
            before = time.monotonic()
            out = subprocess.run([binary, "pipelines", "trigger", "noop"], cwd=project, env=env,
                                 capture_output=True, text=True, check=True).stdout
            run_id = out.split()[2]
            while True:
                with sqlite3.connect(db, timeout=5) as conn:
                    state = conn.execute("SELECT state FROM pipeline_runs WHERE run_id = ?", (run_id,)).fetchone()
                if state and state[0] in ("success", "failed"):
                    break
                if time.monotonic() - before > 60:
                    raise SystemExit(f"run {run_id} did not finish")
                time.sleep(0.002)
            run_s.append(time.monotonic() - before)
            assert state[0] == "success", state
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT started_at, ended_at FROM task_instances WHERE run_id = ?", (run_id,)).fetchall()
            task_s.extend((end - start) / 1000 for start, end in rows)
        return {"start_s": start_s, "idle_pss_mib": idle, "run_s": summary(run_s), "task_s": summary(task_s),
                "per_task_s": statistics.median(run_s) / 4}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def api(port, method, path, token, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def airflow(binary, home, port, runs):
    env = dict(os.environ, AIRFLOW_HOME=home)
    server = subprocess.Popen([binary, "standalone"], env=env, stdout=open(os.path.join(home, "standalone.log"), "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        start_s = wait_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", deadline_s=600)
        # With simple_auth_manager_all_admins every request is an admin's.
        token = None
        # Wait until the DAG is parsed and unpaused.
        deadline = time.monotonic() + 300
        while True:
            try:
                dag = api(port, "GET", "/api/v2/dags/noop", token)
                if dag.get("is_paused"):
                    api(port, "PATCH", "/api/v2/dags/noop", token, {"is_paused": False})
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the noop DAG was never parsed")
                time.sleep(1)
        time.sleep(20)
        idle = group_pss_mib(server.pid)
        run_s = []
        for _ in range(runs):
            before = time.monotonic()
            run = api(port, "POST", "/api/v2/dags/noop/dagRuns", token, {"logical_date": None})
            run_id = run["dag_run_id"]
            while True:
                state = api(port, "GET", f"/api/v2/dags/noop/dagRuns/{run_id}", token)["state"]
                if state in ("success", "failed"):
                    break
                if time.monotonic() - before > 300:
                    raise SystemExit(f"run {run_id} did not finish")
                time.sleep(0.05)
            assert state == "success", state
            run_s.append(time.monotonic() - before)
        return {"start_s": start_s, "idle_pss_mib": idle, "run_s": summary(run_s),
                "per_task_s": statistics.median(run_s) / 4}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    kind, binary, home, port, runs = sys.argv[1:6]
    measure = retrain if kind == "retrain" else airflow
    print(json.dumps({"system": kind, **measure(binary, home, int(port), int(runs))}))
