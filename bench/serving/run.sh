#!/usr/bin/env bash
# Serving benchmark: `mlflow models serve --env-manager local` of a
# scikit-learn RandomForestClassifier(n_estimators=100) on iris against
# `retrain serve` of a 100-tree retrain forest on the same data, one after
# the other in one run, with the same load generator (wrk) and payloads.
# Writes bench/out/serving/report.md.
#   BENCH_VENV=DIR reuses a virtualenv with mlflow and scikit-learn (default bench/.venv-mlflow)
#   DURATION=10 seconds per wrk run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/serving}
venv=${BENCH_VENV:-$root/bench/.venv-mlflow}
duration=${DURATION:-10}
mkdir -p "$out"
command -v wrk > /dev/null || apt-get install -y -qq wrk > /dev/null
if ! "$venv/bin/python" -c 'import mlflow, sklearn' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2" scikit-learn
fi
(cd "$root" && cargo build -q --release --bin retrain)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
retrain="$target_dir/release/retrain"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
results="$out/results.jsonl"
: > "$results"

# MLflow: log and register the model in a local store, then serve version 1.
export MLFLOW_TRACKING_URI="sqlite:///$work/mlflow.db"
"$venv/bin/python" "$here/train_mlflow_model.py" iris-rf-serving > /dev/null 2>&1
p=$(port)
PATH="$venv/bin:$PATH" "$venv/bin/python" "$here/measure.py" mlflow "$p" "$duration" -- \
  "$venv/bin/mlflow" models serve -m models:/iris-rf-serving/1 --env-manager local -h 127.0.0.1 -p "$p" >> "$results"
unset MLFLOW_TRACKING_URI

# retrain: the same forest size on the same data, served from its directory.
printf 'name: iris-rf\nmodel: random_forest\nparams: {n_estimators: 100}\nseed: 0\n' > rf.yaml
"$retrain" train --config rf.yaml --data iris --out iris-rf > /dev/null 2>&1
p=$(port)
python3 "$here/measure.py" retrain "$p" "$duration" -- "$retrain" serve --model iris-rf --port "$p" >> "$results"

python3 "$here/report.py" "$results" | tee "$out/report.md"
