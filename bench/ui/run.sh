#!/usr/bin/env bash
# Web UI benchmark: the server time of every page at scale, and the
# runs/search calls MLflow's UI makes for its runs table, side by side.
#   retrain: `retrain up` (pipelines paused, no bootstrap) with
#     SCALE_RUNS runs of 10 params and 10 metrics in one experiment
#     (default 100,000), 1,000 finished runs of `train` and 500 versions
#     of one model; each page GET 30 times by a signed-in browser session,
#     first at MLFLOW_RUNS runs, then at SCALE_RUNS.
#   mlflow server 3.17.2: MLFLOW_RUNS runs of the same shape (default
#     5,000: populating it runs at ~30 runs/s here), its UI's runs/search
#     calls (newest first, and sorted by a metric), 10 times each.
# Page weights are the bytes on the wire, gzipped as a browser asks.
# Writes bench/out/ui/results.jsonl and prints the report.
#   BENCH_VENV=DIR reuses a virtualenv with mlflow (default bench/.venv-mlflow)
#   RETRAIN_BIN=PATH measures that binary (default: built with --release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/ui}
venv=${BENCH_VENV:-$root/bench/.venv-mlflow}
scale=${SCALE_RUNS:-100000}
mlflow_runs=${MLFLOW_RUNS:-5000}
mkdir -p "$out"
if ! "$venv/bin/python" -c 'import mlflow' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2"
fi
py="$venv/bin/python"
if [ -z "${RETRAIN_BIN:-}" ]; then
  (cd "$root" && cargo build -q --release --bin retrain)
  target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$py" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  RETRAIN_BIN="$target_dir/release/retrain"
fi
retrain=$RETRAIN_BIN
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_health() {
  "$py" - "$1" <<'PY'
import sys, time, urllib.request
started = time.monotonic()
while time.monotonic() - started < 300:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(f"server on port {sys.argv[1]} did not start")
PY
}
results="$out/results.jsonl"
: > "$results"
# tag JSON: the JSON object on stdin with the fields of JSON added.
tag() { "$py" -c 'import json,sys; r=json.load(sys.stdin); r.update(json.loads(sys.argv[1])); print(json.dumps(r))' "$1"; }

# MLflow: its UI's runs table is one runs/search call.
p=$(port)
setsid "$venv/bin/mlflow" server --host 127.0.0.1 --port "$p" --workers 1 \
  --backend-store-uri "sqlite:///$work/mlflow.db" --artifacts-destination "$work/mlflow-artifacts" > "$work/mlflow.log" 2>&1 &
pids+=($!)
wait_health "$p"
"$py" "$here/ui.py" populate-tracking "http://127.0.0.1:$p" "$mlflow_runs" | tag '{"side": "mlflow", "step": "populate"}' >> "$results"
"$py" "$here/ui.py" mlflow-search "http://127.0.0.1:$p" | tag '{"side": "mlflow", "runs": '"$mlflow_runs"'}' >> "$results"
kill -- -"${pids[-1]}"
for _ in $(seq 100); do kill -0 -- -"${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
kill -9 -- -"${pids[-1]}" 2>/dev/null || true

# retrain: a project whose pipelines are paused, with a year and more of
# train's runs already in its database.
project="$work/project"
mkdir -p "$project" && cd "$project"
"$retrain" init > /dev/null
"$py" - <<'PY'
import re
text = open("retrain.yaml").read()
open("retrain.yaml", "w").write(re.sub(r"\nbootstrap:\n(  .*\n)+", "\n", text))
PY
for pipeline in generate_data predict promote_best retrain_iris train train_from_configs; do
  "$retrain" pipelines pause "$pipeline" > /dev/null
done
"$py" "$here/ui.py" populate-pipelines .retrain/retrain.db 1000 > /dev/null
export RETRAIN_ADMIN_PASSWORD=bench-admin-password
p=$(port)
setsid "$retrain" up --port "$p" > "$work/up.log" 2>&1 &
pids+=($!)
wait_health "$p"
url="http://127.0.0.1:$p"
first=$("$py" "$here/ui.py" populate-tracking "$url" "$mlflow_runs" --user admin --password "$RETRAIN_ADMIN_PASSWORD" --versions 500)
echo "$first" | tag '{"side": "retrain", "step": "populate"}' >> "$results"
experiment=$(echo "$first" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
long_run=$(echo "$first" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["long_run"])')
last_run=$("$py" -c 'import sqlite3; print(sqlite3.connect(".retrain/retrain.db").execute("SELECT run_id FROM pipeline_runs WHERE pipeline = \"train\" ORDER BY interval_start DESC LIMIT 1").fetchone()[0])')
enc() { "$py" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
paths=(
  "/" "/pipelines" "/pipelines/train" "/pipelines/train/runs/$(enc "$last_run")"
  "/pipelines/train/runs/$(enc "$last_run")/tasks/train"
  "/experiments" "/experiments/$experiment"
  "/experiments/$experiment?order=$(enc 'metrics.m0 DESC')"
  "/experiments/$experiment?filter=$(enc "metrics.m1 > 0.5 and params.p0 = 'rf'")&order=$(enc 'metrics.m0 DESC')"
  "/experiments/$experiment/runs/$long_run"
  "/models" "/models/bench_model" "/variables" "/users"
)
measure() {
  "$py" "$here/ui.py" pages "$url" --user admin --password "$RETRAIN_ADMIN_PASSWORD" "${paths[@]}" \
    | tag '{"side": "retrain", "runs": '"$1"'}' >> "$results"
}
measure "$mlflow_runs"
"$py" "$here/ui.py" populate-tracking "$url" "$scale" --user admin --password "$RETRAIN_ADMIN_PASSWORD" \
  | tag '{"side": "retrain", "step": "populate"}' >> "$results"
measure "$scale"
cd "$root"
"$py" "$here/report.py" "$results" | tee "$out/report.md"
