#!/usr/bin/env bash
# Orchestration benchmark: the same 4-task no-op pipeline (each task runs
# `true`) under retrain and under Apache Airflow 3.3.2 (SQLite, the
# components `airflow standalone` runs), one after the other in one run.
# retrain: `retrain pipelines run` in the foreground, then `retrain up` with
# runs queued by `retrain pipelines trigger`; Airflow: runs triggered through
# its REST API. Both: start until the API answers, idle memory (PSS of every
# process), trigger → success of a run. Writes bench/out/flow/results.jsonl
# and bench/out/flow/report.md.
#   BENCH_VENV=DIR reuses a virtualenv with Airflow (default bench/.venv-airflow)
#   RUNS=10 retrain runs of each kind, AIRFLOW_RUNS=5 Airflow runs
#   SKIP_AIRFLOW=1 measures retrain only (the report leaves Airflow empty)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/flow}
venv=${BENCH_VENV:-${AIRFLOW_VENV:-$root/bench/.venv-airflow}}
runs=${RUNS:-10}
airflow_runs=${AIRFLOW_RUNS:-5}
mkdir -p "$out"
if [ -z "${SKIP_AIRFLOW:-}" ] && ! "$venv/bin/python" -c 'import airflow.providers.standard' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "apache-airflow==3.3.2" apache-airflow-providers-standard
fi
(cd "$root" && cargo build -q --release --bin retrain)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
retrain="$target_dir/release/retrain"

work=$(mktemp -d)
# measure.py appends the process-group id of every server it starts here.
pidfile="$work/pids"
: > "$pidfile"
pids=()
# Stops the measuring script, then every server group it started, by id.
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  while read -r pid; do
    kill -- -"$pid" 2>/dev/null || continue
    for _ in $(seq 60); do kill -0 -- -"$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 -- -"$pid" 2>/dev/null || true
  done < "$pidfile"
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Runs measure.py in the background and waits for it, so a signal reaches
# the trap at once instead of after the measurement.
measure() {
  python3 "$here/measure.py" "$@" "$pidfile" >> "$results" &
  pids+=($!)
  wait "$!"
}
results="$out/results.jsonl"
: > "$results"

# retrain: a fresh project holding only the no-op pipeline.
project="$work/project"
mkdir -p "$project"
(cd "$project" && "$retrain" init > /dev/null && rm pipelines/*.yaml && cp "$here/noop.yaml" pipelines/)
echo "retrain: $runs foreground runs, then retrain up with $runs triggered runs" >&2
measure retrain "$retrain" "$project" "$(port)" "$runs"

if [ -z "${SKIP_AIRFLOW:-}" ]; then
  # Airflow: a fresh AIRFLOW_HOME under bench/out (its logs stay for a look).
  home="$out/airflow-home"
  rm -rf "$home"
  mkdir -p "$home/dags"
  cp "$here/noop_dag.py" "$home/dags/"
  p=$(port)
  echo "Airflow: start, settle, $airflow_runs triggered runs (about 2 minutes)" >&2
  AIRFLOW__CORE__LOAD_EXAMPLES=False \
  AIRFLOW__CORE__DAGS_FOLDER="$home/dags" \
  AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False \
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True \
  AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$p/execution/" \
  AIRFLOW__API__BASE_URL="http://127.0.0.1:$p" \
    measure airflow "$venv/bin" "$home" "$p" "$airflow_runs"
fi

python3 "$here/report.py" "$results" | tee "$out/report.md"
