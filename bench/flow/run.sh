#!/usr/bin/env bash
# Orchestration benchmark: the same 4-task no-op pipeline (each task runs
# `true`) under Apache Airflow 3.3.2 (standalone, SQLite) and under
# `retrain up`, one after the other in one run: start until the API
# answers, idle memory of the whole process group, and trigger → success of
# a run. Writes bench/out/flow/report.md.
#   AIRFLOW_VENV=DIR reuses a virtualenv with Airflow (default bench/.venv-airflow)
#   RUNS=10 retrain runs, AIRFLOW_RUNS=5 Airflow runs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/flow}
venv=${AIRFLOW_VENV:-$root/bench/.venv-airflow}
runs=${RUNS:-10}
airflow_runs=${AIRFLOW_RUNS:-5}
mkdir -p "$out"
if ! "$venv/bin/python" -c 'import airflow' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "apache-airflow==3.3.2" apache-airflow-providers-standard
fi
(cd "$root" && cargo build -q --release --bin retrain)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
retrain="$target_dir/release/retrain"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
results="$out/results.jsonl"
: > "$results"

# retrain: a fresh project with only the no-op pipeline.
project="$work/project"
mkdir -p "$project"
(cd "$project" && "$retrain" init > /dev/null && rm pipelines/*.yaml && cp "$here/noop.yaml" pipelines/)
python3 "$here/measure.py" retrain "$retrain" "$project" "$(port)" "$runs" >> "$results"

# Airflow: standalone (API server, scheduler, DAG processor, triggerer) on SQLite.
home="$work/airflow"
mkdir -p "$home/dags"
cp "$here/noop_dag.py" "$home/dags/"
p=$(port)
export AIRFLOW__CORE__LOAD_EXAMPLES=False \
  AIRFLOW__CORE__DAGS_FOLDER="$home/dags" \
  AIRFLOW__API__PORT="$p" AIRFLOW__API__HOST=127.0.0.1 \
  AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$p/execution/" \
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True \
  AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
PATH="$venv/bin:$PATH" python3 "$here/measure.py" airflow "$venv/bin/airflow" "$home" "$p" "$airflow_runs" >> "$results"

python3 "$here/report.py" "$results" | tee "$out/report.md"
