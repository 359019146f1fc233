#!/usr/bin/env bash
# MLflow tier: installs MLflow into a virtualenv, then runs the official
# Python client (test_mlflow_client.py) against retrain:
#  1. as MLflow 3.17 against `retrain server --auth`, signed in with an
#     API token (MLFLOW_TRACKING_TOKEN);
#  2. as MLflow 3.17 against `retrain up`, signed in as its first admin
#     (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD);
#  3. as MLflow 2.22 against `retrain server` without sign-in;
#  4. then starts a real `mlflow server` and runs retrain's own MLflow
#     client (MlflowClient) against it.
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
servers=()
mlflow_server=
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$mlflow_server" ] && kill -- -"$mlflow_server" 2>/dev/null || true
  wait "${servers[@]}" $mlflow_server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# client_tests PYTHON LOG: the client's tests against MLFLOW_TRACKING_URI.
client_tests() {
  if ! (cd "$work" && "$1" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$here/test_mlflow_client.py"); then
    echo "--- server log" >&2
    tail -50 "$2" >&2
    exit 1
  fi
}

echo "--- MLflow 3.17 against retrain server --auth, with a token"
mkdir -p "$work/server" && cd "$work/server"
"$RETRAIN_BIN" init > /dev/null
echo "a password for ci" | "$RETRAIN_BIN" users add ci --role editor --password-stdin > /dev/null
token=$("$RETRAIN_BIN" users token create ci --expires 1d 2> /dev/null)
port=$(free_port)
"$RETRAIN_BIN" server --auth --host 127.0.0.1 --port "$port" > "$work/server.log" 2>&1 &
servers+=($!)
wait_for_health "$port" 10
MLFLOW_TRACKING_URI="http://127.0.0.1:$port" MLFLOW_TRACKING_TOKEN="$token" RETRAIN_EXPECT_USER=ci \
  client_tests "$venv/bin/python" "$work/server.log"

echo "--- MLflow 3.17 against retrain up, as its first admin"
mkdir -p "$work/up" && cd "$work/up"
up_port=$(free_port)
RETRAIN_ADMIN_PASSWORD="the up admin password" "$RETRAIN_BIN" up --port "$up_port" > "$work/up.log" 2>&1 &
servers+=($!)
wait_for_health "$up_port" 30
MLFLOW_TRACKING_URI="http://127.0.0.1:$up_port" MLFLOW_TRACKING_USERNAME=admin \
  MLFLOW_TRACKING_PASSWORD="the up admin password" RETRAIN_EXPECT_USER=admin \
  client_tests "$venv/bin/python" "$work/up.log"

echo "--- MLflow 2.22 against retrain server without sign-in"
if [ ! -x "$venv2/bin/python" ] || ! "$venv2/bin/python" -c 'import mlflow, sklearn, pytest' 2>/dev/null; then
  python3 -m venv "$venv2"
  "$venv2/bin/pip" install -q "mlflow==2.22.5" scikit-learn pytest
fi
open_port=$(free_port)
"$RETRAIN_BIN" server --host 127.0.0.1 --port "$open_port" \
  --backend-store-uri "sqlite:///$work/store.db" --artifacts-destination "$work/artifacts" > "$work/open.log" 2>&1 &
servers+=($!)
wait_for_health "$open_port" 10
MLFLOW_TRACKING_URI="http://127.0.0.1:$open_port" client_tests "$venv2/bin/python" "$work/open.log"

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
