#!/usr/bin/env bash
# S3 tier: starts an S3-compatible server (moto, from PyPI) on a free
# 127.0.0.1 port, creates a bucket, and runs the artifact store tests and
# the REST API tests with artifacts in that bucket.
#   S3_VENV  virtualenv to reuse (default bench/.venv-s3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${S3_VENV:-$root/bench/.venv-s3}
if ! "$venv/bin/python" -c 'import moto, boto3' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "moto[server]" boto3
fi
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$log" 2>&1 &
moto=$!
trap 'kill -- -$moto 2>/dev/null || kill $moto 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$log"' EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$port"
"$venv/bin/python" - <<'PY'
import os, time, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
for _ in range(100):
    try:
        s3.create_bucket(Bucket="retrain-test")
        break
    except Exception:
        time.sleep(0.2)
else:
    raise SystemExit("the S3 server did not start")
PY
export RETRAIN_TEST_S3_URI=s3://retrain-test/artifacts
cd "$root"
cargo test -q -p retrain-registry --test store artifacts
cargo test -q -p retrain-server --test server mlflow_api
