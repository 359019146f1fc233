"""The web UI benchmark's client: fills a server, then times its pages.

  ui.py populate-tracking URL RUNS [--user U --password P]
      RUNS runs of 10 params and 10 metrics in experiment "bench" (through
      MLflow's REST API, 8 threads), one run with a 10,000-point metric
      history, and (retrain only) a registered model with 500 versions.
  ui.py populate-pipelines DB RUNS
      RUNS finished runs of pipeline `train`, each with its task instances,
      written into retrain's SQLite database (the state a year of daily
      runs leaves; the scheduler is not running).
  ui.py pages URL --user U --password P
      signs in on /login, then GETs each page 30 times; prints JSON.
  ui.py mlflow-search URL
      the runs/search calls MLflow's UI makes for its runs table; JSON.
"""

import argparse
import base64
import concurrent.futures
import http.client
import json
import random
import sqlite3
import statistics
import sys
import time
import urllib.parse

REPEATS = 30
THREADS = 8


class Client:
    """One keep-alive connection with optional Basic credentials or cookie."""

    def __init__(self, url, user=None, password=None):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.headers = {}
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def call(self, method, path, body=None, headers=None):
        all_headers = dict(self.headers, **(headers or {}))
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        try:
            self.conn.request(method, path, body=data, headers=all_headers)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            # The server closed an idle keep-alive connection: once more.
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.conn.request(method, path, body=data, headers=all_headers)
            response = self.conn.getresponse()
        payload = response.read()
        return response.status, response.getheaders(), payload

    def json(self, method, path, body=None):
        status, _, payload = self.call(method, path, body)
        if status != 200:
            sys.exit(f"{method} {path}: {status} {payload[:300]!r}")
        return json.loads(payload or b"{}")


def populate_tracking(args):
    client = Client(args.url, args.user, args.password)
    found = client.call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench")
    if found[0] == 200:
        experiment = json.loads(found[2])["experiment"]["experiment_id"]
    else:
        experiment = client.json("POST", "/api/2.0/mlflow/experiments/create", {"name": "bench"})["experiment_id"]
    have = count_runs(client, experiment)
    todo = max(0, args.runs - have)

    def make(chunk):
        c = Client(args.url, args.user, args.password)
        rng = random.Random(chunk[0])
        ids = []
        for i in chunk:
            run = c.json("POST", "/api/2.0/mlflow/runs/create",
                         {"experiment_id": experiment, "run_name": f"run-{i}", "start_time": 1_700_000_000_000 + i})
            run_id = run["run"]["info"]["run_id"]
            now = int(time.time() * 1000)
            c.json("POST", "/api/2.0/mlflow/runs/log-batch", {
                "run_id": run_id,
                "params": [{"key": f"p{k}", "value": rng.choice(["rf", "gb", "lr", "knn"]) if k == 0 else str(rng.randint(1, 500))} for k in range(10)],
                "metrics": [{"key": f"m{k}", "value": rng.random(), "timestamp": now, "step": 0} for k in range(10)],
            })
            c.json("POST", "/api/2.0/mlflow/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now})
            ids.append(run_id)
        return ids

    started = time.monotonic()
    chunks = [list(range(have + s, have + todo, THREADS)) for s in range(THREADS)]
    run_ids = []
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for ids in pool.map(make, chunks):
            run_ids.extend(ids)
    elapsed = time.monotonic() - started
    if have == 0 and run_ids:
        long_run = run_ids[0]
        for start in range(0, 10_000, 1000):
            points = [{"key": "loss", "value": 1.0 / (1 + s), "timestamp": 1_700_000_000_000 + s, "step": s}
                      for s in range(start, start + 1000)]
            client.json("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": long_run, "metrics": points})
    if args.versions and have == 0:
        client.json("POST", "/api/2.0/mlflow/registered-models/create", {"name": "bench_model"})
        for v in range(args.versions):
            client.json("POST", "/api/2.0/mlflow/model-versions/create",
                        {"name": "bench_model", "source": f"runs:/{run_ids[v % len(run_ids)]}/model",
                         "run_id": run_ids[v % len(run_ids)]})
            if v % 25 == 0:
                client.json("POST", "/api/2.0/mlflow/registered-models/alias",
                            {"name": "bench_model", "alias": "champion", "version": str(v + 1)})
    print(json.dumps({"experiment_id": experiment, "runs": have + todo, "populate_s": round(elapsed, 1),
                      "long_run": run_ids[0] if run_ids else None}))


def count_runs(client, experiment):
    total, token = 0, None
    while True:
        body = {"experiment_ids": [experiment], "max_results": 50000}
        if token:
            body["page_token"] = token
        page = client.json("POST", "/api/2.0/mlflow/runs/search", body)
        total += len(page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            return total


def populate_pipelines(args):
    db = sqlite3.connect(args.db)
    tasks = ["wait_for_data", "prepare", "split", "train", "validate", "register", "promote", "notify"]
    day = 86_400_000
    start = 1_700_006_400_000 - args.runs * day
    rows, instances = [], []
    for i in range(args.runs):
        begin = start + i * day
        run_id = f"scheduled__{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(begin / 1000))}+00:00"
        state = "failed" if i % 37 == 0 else "success"
        rows.append(("train", run_id, "scheduled", state, begin, begin + day, "{}", "scheduler",
                     begin + day, begin + day + 10, begin + day + 9000))
        for n, task in enumerate(tasks):
            t_state = "failed" if state == "failed" and n == 1 else ("upstream_failed" if state == "failed" and n > 1 else "success")
            instances.append(("train", run_id, task, t_state, 1, 3, None, begin + day + n * 1800,
                              begin + day + n * 1800, begin + day + n * 1800 + 1500, None,
                              0 if t_state == "success" else 1, None, None))
    db.executemany("INSERT INTO pipeline_runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO task_instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", instances)
    db.commit()
    print(json.dumps({"pipeline_runs": args.runs, "task_instances": len(instances)}))


def timed(client, path, headers=None):
    samples, size, status = [], 0, None
    for _ in range(REPEATS):
        began = time.perf_counter()
        status, _, payload = client.call("GET", path, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        size = len(payload)
    samples.sort()
    return {"path": path, "status": status, "bytes": size, "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2)}


def pages(args):
    client = Client(args.url)
    form = urllib.parse.urlencode({"username": args.user, "password": args.password})
    status, headers, _ = client.call("POST", "/login", form,
                                     {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})
    cookie = next((v.split(";")[0] for k, v in headers if k.lower() == "set-cookie"), None)
    if status != 303 or not cookie:
        sys.exit(f"sign-in failed: {status}")
    # As a browser asks: the bytes measured are those on the wire.
    browser = {"Cookie": cookie, "Accept": "text/html", "Accept-Encoding": "gzip"}
    results = [timed(client, path, browser) for path in args.paths]
    assets = sum(timed(client, f"/static/{name}", browser)["bytes"] for name in ("style.css", "app.js", "favicon.svg"))
    print(json.dumps({"pages": results, "asset_bytes": assets}))


def mlflow_search(args):
    client = Client(args.url)
    experiment = client.json("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=bench")["experiment"]["experiment_id"]
    results = []
    for name, order in (("runs table, newest first", ["attributes.start_time DESC"]),
                        ("runs table, sorted by a metric", ["metrics.`m0` DESC"])):
        body = json.dumps({"experiment_ids": [experiment], "filter": "", "run_view_type": "ACTIVE_ONLY",
                           "max_results": 100, "order_by": order})
        samples = []
        for _ in range(REPEATS // 3):
            began = time.perf_counter()
            status, _, _ = client.call("POST", "/ajax-api/2.0/mlflow/runs/search", body)
            samples.append((time.perf_counter() - began) * 1000)
            if status != 200:
                sys.exit(f"mlflow search: {status}")
        samples.sort()
        results.append({"what": name, "p50_ms": round(statistics.median(samples), 2), "max_ms": round(samples[-1], 2)})
    print(json.dumps({"searches": results}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("populate-tracking")
    p.add_argument("url")
    p.add_argument("runs", type=int)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--versions", type=int, default=0)
    p = sub.add_parser("populate-pipelines")
    p.add_argument("db")
    p.add_argument("runs", type=int)
    p = sub.add_parser("pages")
    p.add_argument("url")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("paths", nargs="+")
    p = sub.add_parser("mlflow-search")
    p.add_argument("url")
    args = parser.parse_args()
    {"populate-tracking": populate_tracking, "populate-pipelines": populate_pipelines,
     "pages": pages, "mlflow-search": mlflow_search}[args.command](args)


if __name__ == "__main__":
    main()
