#!/usr/bin/env bash
# The main job: the chat quickstart in this terminal.
#
#   1. creates ./.venv (if missing) and installs requirements.txt into it;
#   2. starts the local server hosting server/ as database `chat` on localhost:3000, unless
#      something already answers http://localhost:3000/v1/ping (then that one is used);
#   3. runs `python client/main.py "$@"` here (type messages, `/name NAME`, an empty line quits);
#   4. stops the server it started when the client exits.
#
# A second user, in another terminal:  .venv/bin/python client/main.py --client 2
# Server data (keys, users, messages) is kept in .spacetimedb-sdk/data, its log in
# .spacetimedb-sdk/server.log (each start appends to it, after a dated header line; pip's output
# goes to .spacetimedb-sdk/pip.log); QUICKSTART_STATE_DIR moves them. Port 3000 is what
# client/main.py connects to.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PORT=3000
BASE_URL="http://localhost:${PORT}"
STATE_DIR="${QUICKSTART_STATE_DIR:-.spacetimedb-sdk}"

if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment .venv with $PYTHON..." >&2
  "$PYTHON" -m venv .venv
fi
# Install only when requirements.txt or pyproject.toml changed since the last install.
mkdir -p "$STATE_DIR"
STAMP=.venv/.quickstart-requirements.sha256
WANTED="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(b"".join(open(f,"rb").read() for f in sys.argv[1:])).hexdigest())' requirements.txt pyproject.toml)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANTED" ]; then
  echo "Installing the SDK and the local server (requirements.txt) into .venv; the first time" \
    "pip needs 15-60 s (full log: $STATE_DIR/pip.log)..." >&2
  # pip's progress, one line per package, so the wait is not silent; everything goes to the log.
  if ! .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off \
      -r requirements.txt 2>&1 | tee "$STATE_DIR/pip.log" \
      | { grep --line-buffered -E '^(Obtaining|Collecting|Building wheels|Installing collected|Successfully)' \
          || true; } | while IFS= read -r line; do echo "  pip: $line" >&2; done; then
    echo "pip failed; its output:" >&2
    cat "$STATE_DIR/pip.log" >&2
    exit 1
  fi
  echo "$WANTED" >"$STAMP"
  echo "Installed." >&2
fi

answers_ping() {
  .venv/bin/python - "$BASE_URL" <<'EOF'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1] + "/v1/ping", timeout=1) as response:
        sys.exit(0 if 200 <= response.status < 300 else 1)
except OSError:
    sys.exit(1)
EOF
}

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT

if answers_ping; then
  echo "Using the SpacetimeDB server already running at ${BASE_URL}." >&2
else
  echo "Starting the local server (database 'chat' from server/) at ${BASE_URL}..." >&2
  # Append: the log of an earlier run (e.g. the one that went wrong) stays readable.
  echo "=== $(date -u '+%Y-%m-%d %H:%M:%S UTC') scripts/run.sh starts the local server" \
    >>"$STATE_DIR/server.log"
  .venv/bin/spacetimedb-sdk serve --port "$PORT" --data-dir "$STATE_DIR/data" chat=server \
    >>"$STATE_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if answers_ping; then
      break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "The local server exited; see $STATE_DIR/server.log:" >&2
      tail -n 20 "$STATE_DIR/server.log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  if ! answers_ping; then
    echo "The local server did not answer within 30 s; see $STATE_DIR/server.log." >&2
    exit 1
  fi
fi

status=0
.venv/bin/python client/main.py "$@" || status=$?
exit "$status"
