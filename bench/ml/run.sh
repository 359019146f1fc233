#!/usr/bin/env bash
# Classifier benchmark: retrain against scikit-learn on the same rows and
# split, alternating sides in one run. Writes bench/out/ml/report.md.
#   ROUNDS=3 (default) repetitions; the report shows medians.
#   BENCH_VENV=DIR reuses a virtualenv (default bench/.venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out/ml}
venv=${BENCH_VENV:-$root/bench/.venv}
rounds=${ROUNDS:-3}

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q scikit-learn
mkdir -p "$out"
[ -f "$out/data/train.csv" ] || "$venv/bin/python" "$here/sklearn_side.py" make-data "$out/data"
(cd "$root" && cargo build -q --release -p retrain-ml --example bench_classifiers)
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

results="$out/results.jsonl"
: > "$results"
for round in $(seq "$rounds"); do
  echo "round $round/$rounds" >&2
  # Current numpy is slower with the OpenBLAS core overrides some machines set.
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$here/sklearn_side.py" run "$out/data" >> "$results"
  "$target_dir/release/examples/bench_classifiers" "$out/data/train.csv" "$out/data/test.csv" y >> "$results"
done
"$venv/bin/python" "$here/report.py" "$results" | tee "$out/report.md"
