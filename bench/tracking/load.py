"""One load generator for any MLflow-compatible tracking server, so both
sides of the comparison meet the same client. Loopback only; every loop is
bounded by a duration and a request cap.

    python load.py URL NAME [--duration 10] [--concurrency 8] [--runs 2000]
                   [--search-reps 30] [--scale-runs 0]

Prints one JSON object: (a) single log-metric requests, (b) log-batch with
100 metrics, (c) populating RUNS runs then runs/search with a filter and an
order, and (d) with --scale-runs N, the same search after growing the
experiment to N runs.
"""
import argparse
import json
import socket
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

API = "/api/2.0/mlflow"
REQUEST_CAP = 200_000


class Client:
    """One keep-alive connection, requests written and responses read by
    hand. http.client parses each response's headers through the email
    package: about 100 us of client CPU per request against 35 us here, and
    with 8 client threads sharing 2 cores with the server, that queueing,
    not the server, made the tail of fast requests. Reconnects when the
    server closed the connection."""

    # `Authorization` sent with every request, as MLflow's client sends
    # MLFLOW_TRACKING_USERNAME/PASSWORD (set from --authorization).
    authorization = None

    def __init__(self, url):
        parsed = urlparse(url)
        assert parsed.hostname in ("127.0.0.1", "localhost"), "loopback only"
        self.address = (parsed.hostname, parsed.port)
        credentials = f"Authorization: {Client.authorization}\r\n" if Client.authorization else ""
        self.headers = f"Host: {parsed.hostname}:{parsed.port}\r\n{credentials}Content-Type: application/json\r\n".encode()
        self._connect()

    def _connect(self):
        self.sock = socket.create_connection(self.address, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.unread = b""

    def _receive(self, buffer):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return buffer + chunk

    def _exchange(self, request):
        """Sends one request; returns the status and body of its response."""
        self.sock.sendall(request)
        buffer = self.unread
        while (head_end := buffer.find(b"\r\n\r\n")) < 0:
            buffer = self._receive(buffer)
        head = buffer[:head_end].decode("latin-1").lower()
        length = next(
            (int(line[15:]) for line in head.split("\r\n") if line.startswith("content-length:")), None
        )
        if length is None:
            raise RuntimeError(f"a response without content-length: {head!r}")
        start = head_end + 4
        while len(buffer) < start + length:
            buffer = self._receive(buffer)
        self.unread = buffer[start + length:]
        return int(head[9:12]), buffer[start:start + length]

    def post(self, endpoint, body):
        data = json.dumps(body).encode()
        request = b"".join([
            f"POST {API}{endpoint} HTTP/1.1\r\n".encode(), self.headers,
            f"Content-Length: {len(data)}\r\n\r\n".encode(), data,
        ])
        started = time.perf_counter()
        try:
            status, payload = self._exchange(request)
        except OSError:
            self.sock.close()
            self._connect()
            started = time.perf_counter()
            status, payload = self._exchange(request)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{endpoint}: {status} {payload[:200]!r}")
        return json.loads(payload or b"{}"), elapsed


def percentiles(latencies):
    values = sorted(latencies)
    if not values:
        return {}
    pick = lambda p: values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000
    return {"n": len(values), "p50_ms": pick(50), "p99_ms": pick(99), "max_ms": values[-1] * 1000}


def hammer(url, concurrency, duration, make_body, endpoint):
    """`concurrency` threads send requests for `duration` seconds."""
    latencies = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    deadline = time.perf_counter() + duration

    def worker(i):
        client = Client(url)
        for n in range(REQUEST_CAP):
            if time.perf_counter() >= deadline:
                break
            try:
                _, elapsed = client.post(endpoint, make_body(i, n))
                latencies[i].append(elapsed)
            except Exception:
                errors[i] += 1
                client = Client(url)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    return {"requests_per_s": len(flat) / wall, "errors": sum(errors), **percentiles(flat)}


def populate(url, experiment_id, runs, concurrency=8):
    def worker(i, out):
        client = Client(url)
        for n in range(i, runs, concurrency):
            run, _ = client.post("/runs/create", {"experiment_id": experiment_id, "run_name": f"run-{n}", "start_time": n})
            run_id = run["run"]["info"]["run_id"]
            model = "rf" if n % 2 == 0 else "knn"
            metrics = [{"key": f"m{k}", "value": (n * 7 + k) % 1000 / 1000, "timestamp": n, "step": 0} for k in range(4)]
            metrics.append({"key": "acc", "value": (n % 1000) / 1000, "timestamp": n, "step": 0})
            params = [{"key": "model", "value": model}] + [{"key": f"p{k}", "value": str(k)} for k in range(4)]
            client.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params})
            out.append(1)

    done = []
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i, done)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done) / (time.perf_counter() - started)


def search(url, experiment_id, reps):
    client = Client(url)
    body = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.acc > 0.5 and params.model = 'rf'",
        "order_by": ["metrics.acc DESC"],
        "max_results": 100,
    }
    latencies = []
    count = 0
    for _ in range(reps):
        answer, elapsed = client.post("/runs/search", body)
        latencies.append(elapsed)
        count = len(answer.get("runs", []))
    return {"results": count, **percentiles(latencies)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--search-reps", type=int, default=30)
    parser.add_argument("--scale-runs", type=int, default=0)
    parser.add_argument("--authorization", help="an Authorization header value sent with every request")
    args = parser.parse_args()
    Client.authorization = args.authorization
    client = Client(args.url)
    tag = uuid.uuid4().hex[:8]
    experiment, _ = client.post("/experiments/create", {"name": f"bench-{tag}"})
    experiment_id = experiment["experiment_id"]
    run, _ = client.post("/runs/create", {"experiment_id": experiment_id, "run_name": "load"})
    run_id = run["run"]["info"]["run_id"]
    now = int(time.time() * 1000)

    result = {"side": args.name}
    result["log_metric"] = hammer(
        args.url, args.concurrency, args.duration,
        lambda i, n: {"run_id": run_id, "key": f"w{i}", "value": n * 0.5, "timestamp": now + n, "step": n},
        "/runs/log-metric",
    )
    batch = hammer(
        args.url, args.concurrency, args.duration,
        lambda i, n: {"run_id": run_id, "metrics": [
            {"key": f"b{i}_{k}", "value": k * 0.1, "timestamp": now + n, "step": n} for k in range(100)
        ]},
        "/runs/log-batch",
    )
    batch["metrics_per_s"] = batch["requests_per_s"] * 100
    result["log_batch_100"] = batch
    search_experiment, _ = client.post("/experiments/create", {"name": f"search-{tag}"})
    search_id = search_experiment["experiment_id"]
    result["populate_runs_per_s"] = populate(args.url, search_id, args.runs)
    result["search_runs"] = {"runs": args.runs, **search(args.url, search_id, args.search_reps)}
    if args.scale_runs > args.runs:
        populate(args.url, search_id, args.scale_runs - args.runs)
        result["search_runs_at_scale"] = {"runs": args.scale_runs, **search(args.url, search_id, args.search_reps)}
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
