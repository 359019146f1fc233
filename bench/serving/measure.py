"""Starts one model server, measures it and prints JSON: cold start (launch
until the first answer to /invocations), wrk on single-row requests at
concurrency 1, 8 and 32, a 1,000-row request, and memory.

    measure.py NAME PORT DURATION -- COMMAND...
"""

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = [5.1, 3.5, 1.4, 0.2]


def body(rows):
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW] * rows}}).encode()


def post(port, payload):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=payload,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def group_memory_mib(pgid):
    """RSS and PSS summed over the server's process group."""
    rss = pss = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return rss / 1024, pss / 1024


def seconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def wrk(port, connections, duration):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        script.write(f"wrk.body = {json.dumps(body(1).decode())}\n")
    threads = min(connections, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
                          "-s", script.name, f"http://127.0.0.1:{port}/invocations"],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "connections": connections,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_s": seconds(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99_s": seconds(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def main():
    name, port, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    command = sys.argv[sys.argv.index("--") + 1:]
    launched = time.monotonic()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(f"{name}.log", "w"),
                              start_new_session=True)
    try:
        while True:
            try:
                first = post(port, body(1))
                cold_start = time.monotonic() - launched
                break
            except OSError:
                if time.monotonic() - launched > 300 or server.poll() is not None:
                    raise SystemExit(f"{name} did not answer")
                time.sleep(0.002)
        rss, pss = group_memory_mib(server.pid)
        loads = [wrk(port, c, duration) for c in (1, 8, 32)]
        big = body(1000)
        times = []
        for _ in range(50):
            started = time.monotonic()
            answer = post(port, big)
            times.append(time.monotonic() - started)
            assert len(answer["predictions"]) == 1000
        loaded_rss, loaded_pss = group_memory_mib(server.pid)
        print(json.dumps({
            "system": name, "first_answer": first, "cold_start_s": cold_start,
            "idle_rss_mib": rss, "idle_pss_mib": pss, "loaded_rss_mib": loaded_rss, "loaded_pss_mib": loaded_pss,
            "wrk": loads, "rows_1000_p50_s": statistics.median(times),
        }))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
