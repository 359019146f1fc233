#!/usr/bin/env bash
# MLflow tier: installs MLflow into a virtualenv, then
#  1. starts `retrain server` on a free 127.0.0.1 port with a throwaway
#     store and runs the official Python client (test_mlflow_client.py)
#     against it, once as MLflow 3.17 and once as 2.22;
#  2. starts a real `mlflow server` the same way and runs retrain's own
#     MLflow client (MlflowClient) against it.
#   RETRAIN_BIN   the retrain binary (default: built with cargo)
#   MLFLOW_VENV   virtualenv to reuse (default: bench/.venv-mlflow)
#   MLFLOW2_VENV  the same for the 2.x client (default: bench/.venv-mlflow2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${MLFLOW_VENV:-$root/bench/.venv-mlflow}
venv2=${MLFLOW2_VENV:-$root/bench/.venv-mlflow2}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mlflow, sklearn, pytest' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2" scikit-learn pytest
fi
if [ -z "${RETRAIN_BIN:-}" ]; then
  (cd "$root" && cargo build -q --bin retrain)
  RETRAIN_BIN="$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/retrain"
fi
work=$(mktemp -d)
free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_health() {
  "$venv/bin/python" - "$1" "$2" <<'PY'
import sys, time, urllib.request
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(f"no answer on /health of port {sys.argv[1]}")
PY
}
port=$(free_port)
"$RETRAIN_BIN" server --host 127.0.0.1 --port "$port" \
  --backend-store-uri "sqlite:///$work/store.db" --artifacts-destination "$work/artifacts" > "$work/server.log" 2>&1 &
server=$!
mlflow_server=
cleanup() {
  kill $server 2>/dev/null || true
  [ -n "$mlflow_server" ] && kill -- -"$mlflow_server" 2>/dev/null || true
  wait $server $mlflow_server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_for_health "$port" 10
export MLFLOW_TRACKING_URI="http://127.0.0.1:$port"
cd "$work"
if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/test_mlflow_client.py"; then
  echo "--- server log" >&2
  tail -50 "$work/server.log" >&2
  exit 1
fi

echo "--- the same tests with an MLflow 2.x client"
if [ ! -x "$venv2/bin/python" ] || ! "$venv2/bin/python" -c 'import mlflow, sklearn, pytest' 2>/dev/null; then
  python3 -m venv "$venv2"
  "$venv2/bin/pip" install -q "mlflow==2.22.5" scikit-learn pytest
fi
if ! "$venv2/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$here/test_mlflow_client.py"; then
  echo "--- server log" >&2
  tail -50 "$work/server.log" >&2
  exit 1
fi

echo "--- MlflowClient against a real mlflow server"
mlflow_port=$(free_port)
# Its own process group: mlflow starts job consumers that must stop with it.
setsid "$venv/bin/mlflow" server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
  --backend-store-uri "sqlite:///$work/mlflow.db" --artifacts-destination "$work/mlflow-artifacts" > "$work/mlflow.log" 2>&1 &
mlflow_server=$!
if ! wait_for_health "$mlflow_port" 180; then
  tail -30 "$work/mlflow.log" >&2
  exit 1
fi
cd "$root"
MLFLOW_SERVER_URL="http://127.0.0.1:$mlflow_port" cargo test -q -p retrain-server --test server mlflow_client
