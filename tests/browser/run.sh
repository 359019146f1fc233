#!/usr/bin/env bash
# Browser tier: the web UI in a real browser. Installs Debian's Chromium
# (when missing) and Playwright's Python driver into a virtualenv (it
# drives that Chromium; no browser is downloaded), starts `retrain up` in
# a fresh directory, and runs test_ui.py: sign in, trigger retrain_iris
# from its page, watch the grid turn green, read the task log, the run's
# metric chart and the model page, promote a version with a reason.
# Screenshots of every page go to target/ui-screenshots/.
#   RETRAIN_BIN    the retrain binary (default: built with cargo)
#   BROWSER_VENV   virtualenv to reuse (default: bench/.venv-browser)
#   CHROMIUM       the browser (default: /usr/bin/chromium)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${BROWSER_VENV:-$root/bench/.venv-browser}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium > /dev/null
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import playwright, pytest' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "playwright==1.65.2" pytest
fi
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${RETRAIN_BIN:-}" ]; then
  (cd "$root" && cargo build -q --bin retrain)
  RETRAIN_BIN="$target_dir/debug/retrain"
fi
export SCREENSHOTS=${SCREENSHOTS:-$root/target/ui-screenshots}
mkdir -p "$SCREENSHOTS"
work=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export RETRAIN_ADMIN_PASSWORD="browser-tier-$(date +%s)"
# retrain_iris announces its deployments on Telegram, which this machine
# cannot reach: a local receiver answers Telegram's sendMessage as the Bot
# API does and keeps each message, so the run can end green and the test
# can read what was announced.
telegram_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TELEGRAM_MESSAGES="$work/telegram.jsonl" TELEGRAM_BOT_TOKEN=browser-tier TELEGRAM_CHAT_ID=42
"$venv/bin/python" "$here/telegram_receiver.py" "$telegram_port" "$TELEGRAM_MESSAGES" &
receiver=$!
(cd "$work" && "$RETRAIN_BIN" init > /dev/null)
"$venv/bin/python" - "$work/retrain.yaml" "$telegram_port" <<'PY'
import sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
anchor = "    chat_id_env: TELEGRAM_CHAT_ID\n"
assert anchor in text, "retrain init's telegram channel changed"
open(path, "w").write(text.replace(anchor, anchor + f"    base_url: http://127.0.0.1:{port}\n", 1))
PY
(cd "$work" && exec "$RETRAIN_BIN" up --port "$port" > "$work/up.log" 2>&1) &
up=$!
cleanup() {
  kill "$up" "$receiver" 2>/dev/null || true
  wait "$up" "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$venv/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
deadline = time.time() + 120
while time.time() < deadline:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("retrain up did not answer /health")
PY
export RETRAIN_URL="http://127.0.0.1:$port"
if ! (cd "$work" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/test_ui.py"); then
  echo "--- retrain up's log" >&2
  tail -80 "$work/up.log" >&2
  exit 1
fi
echo "screenshots in $SCREENSHOTS"
