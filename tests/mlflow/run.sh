#!/usr/bin/env bash
# MLflow client tier: installs the official MLflow Python client into a
# virtualenv, starts `retrain server` on a free 127.0.0.1 port with a
# throwaway store, and runs test_mlflow_client.py against it.
#   RETRAIN_BIN   the retrain binary (default: built with cargo)
#   MLFLOW_VENV   virtualenv to reuse (default: bench/.venv-mlflow)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${MLFLOW_VENV:-$root/bench/.venv-mlflow}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mlflow, sklearn, pytest' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mlflow==3.17.2" scikit-learn pytest
fi
if [ -z "${RETRAIN_BIN:-}" ]; then
  (cd "$root" && cargo build -q --bin retrain)
  RETRAIN_BIN="$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/retrain"
fi
work=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$RETRAIN_BIN" server --host 127.0.0.1 --port "$port" \
  --backend-store-uri "sqlite:///$work/store.db" --artifacts-destination "$work/artifacts" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
"$venv/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("retrain server did not answer /health")
PY
export MLFLOW_TRACKING_URI="http://127.0.0.1:$port"
cd "$work"
if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/test_mlflow_client.py"; then
  echo "--- server log" >&2
  tail -50 "$work/server.log" >&2
  exit 1
fi
