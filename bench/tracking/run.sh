#!/usr/bin/env bash
# Tracking server benchmark: the same load generator (load.py) against a
# real `mlflow server` and against `retrain server`, both on SQLite, one
# after the other in one run. Writes bench/out/tracking/report.md.
#   BENCH_VENV=DIR reuses a virtualenv with mlflow (default bench/.venv-mlflow)
#   DURATION=10 seconds per write scenario; SCALE_RUNS=100000 runs for
#   retrain's large-experiment search (MLflow is not asked: populating it
#   at its rate would take hours).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/tracking}
venv=${BENCH_VENV:-$root/bench/.venv-mlflow}
duration=${DURATION:-10}
scale=${SCALE_RUNS:-100000}
mkdir -p "$out"
if ! "$venv/bin/python" -c 'import mlflow' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2"
fi
(cd "$root" && cargo build -q --release --bin retrain)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Seconds (to the millisecond) until the server on port $1 answers /health.
wait_health() {
  "$venv/bin/python" - "$1" <<'PY'
import sys, time, urllib.request
started = time.monotonic()
while time.monotonic() - started < 300:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        print(f"{time.monotonic() - started:.3f}")
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(f"server on port {sys.argv[1]} did not start")
PY
}
# Resident memory of a process group, in MiB.
rss_mib() { ps -o rss= -g "$1" | awk '{s+=$1} END {printf "%.0f", s/1024}'; }

results="$out/results.jsonl"
: > "$results"

p=$(port)
setsid "$venv/bin/mlflow" server --host 127.0.0.1 --port "$p" --workers 1 \
  --backend-store-uri "sqlite:///$work/mlflow.db" --artifacts-destination "$work/mlflow-artifacts" > "$work/mlflow.log" 2>&1 &
pids+=($!)
start_s=$(wait_health "$p")
idle=$(rss_mib "${pids[-1]}")
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$p" mlflow --duration "$duration" \
  | "$venv/bin/python" -c "import json,sys; r=json.load(sys.stdin); r.update(start_s=$start_s, idle_rss_mib=$idle, loaded_rss_mib=$(rss_mib "${pids[-1]}")); print(json.dumps(r))" >> "$results"
# Wait (bounded) until every MLflow process has exited, so none of them
# still holds a core while retrain is measured.
kill -- -"${pids[-1]}"
for _ in $(seq 100); do kill -0 -- -"${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
kill -9 -- -"${pids[-1]}" 2>/dev/null || true

p=$(port)
setsid "$target_dir/release/retrain" server --host 127.0.0.1 --port "$p" \
  --backend-store-uri "sqlite:///$work/retrain.db" --artifacts-destination "$work/retrain-artifacts" > "$work/retrain.log" 2>&1 &
pids+=($!)
start_s=$(wait_health "$p")
idle=$(rss_mib "${pids[-1]}")
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$p" retrain --duration "$duration" --scale-runs "$scale" \
  | "$venv/bin/python" -c "import json,sys; r=json.load(sys.stdin); r.update(start_s=$start_s, idle_rss_mib=$idle, loaded_rss_mib=$(rss_mib "${pids[-1]}")); print(json.dumps(r))" >> "$results"

kill -- -"${pids[-1]}"

# The cost of signing in: retrain server without and with --auth, the
# load signed with HTTP Basic on every request (what MLflow's client does
# with MLFLOW_TRACKING_USERNAME/PASSWORD), twice each, alternating.
basic="Basic $(printf bench:bench-password | base64)"
for round in 1 2; do
  for side in open auth; do
    dir="$work/$side-$round"
    mkdir -p "$dir" && cd "$dir"
    "$target_dir/release/retrain" init > /dev/null
    echo "bench-password" | "$target_dir/release/retrain" users add bench --role editor --password-stdin > /dev/null
    flags=() credentials=()
    if [ "$side" = auth ]; then flags=(--auth) credentials=(--authorization "$basic"); fi
    p=$(port)
    setsid "$target_dir/release/retrain" server "${flags[@]}" --host 127.0.0.1 --port "$p" > "$dir/server.log" 2>&1 &
    pids+=($!)
    wait_health "$p" > /dev/null
    "$venv/bin/python" "$here/load.py" "http://127.0.0.1:$p" "retrain-$side-$round" --duration "$duration" "${credentials[@]}" >> "$results"
    kill -- -"${pids[-1]}"
  done
done
cd "$root"

"$venv/bin/python" "$here/report.py" "$results" | tee "$out/report.md"
