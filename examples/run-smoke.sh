#!/usr/bin/env bash
# Runs both smoke tests (examples/smoke.sh with the aws CLI, examples/boto3_smoke.py with boto3)
# against a fresh Eddy server: starts the given binary on a free port and a temporary data dir,
# runs the scripts, stops the server with SIGTERM and removes the data dir. It builds nothing.
#
#   cargo build --bin eddy
#   examples/run-smoke.sh                      # uses target/debug/eddy
#   examples/run-smoke.sh path/to/eddy
#
# It prints the server's listening line, each script's `ok  ...` lines (or `skip: aws CLI not
# found` / `skip: boto3 not importable` when a tool is missing), then
# `run-smoke.sh: passed` and exits 0, or names what failed and exits 1.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EDDY="${1:-$HERE/../target/debug/eddy}"
[[ -x "$EDDY" ]] || { echo "run-smoke.sh: no eddy binary at $EDDY (run: cargo build --bin eddy)" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/eddy-smoke.XXXXXX")"
SERVER_PID=""

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log() {
  echo "--- server stderr (last 30 lines):" >&2
  tail -n 30 "$TMP/stderr" >&2 || true
}

# Port 0: the kernel picks a free port and the server prints the one it got.
"$EDDY" serve --listen 127.0.0.1:0 --data-dir "$TMP/data" >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER_PID=$!

ENDPOINT=""
for _ in $(seq 1 300); do
  line="$(grep -m1 'listening on http://' "$TMP/stdout" || true)"
  if [[ -n "$line" ]]; then
    ENDPOINT="http://${line##*listening on http://}"
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "run-smoke.sh: $EDDY exited before listening" >&2
    server_log
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$ENDPOINT" ]]; then
  echo "run-smoke.sh: $EDDY printed no listening line within 30 s" >&2
  server_log
  exit 1
fi
echo "$line"

FAILED=()

echo "==> examples/smoke.sh $ENDPOINT"
if command -v aws >/dev/null 2>&1; then
  bash "$HERE/smoke.sh" "$ENDPOINT" || FAILED+=("examples/smoke.sh")
else
  echo "skip: aws CLI not found"
fi

echo "==> examples/boto3_smoke.py $ENDPOINT"
if command -v python3 >/dev/null 2>&1 && python3 -c 'import boto3' >/dev/null 2>&1; then
  python3 "$HERE/boto3_smoke.py" "$ENDPOINT" || FAILED+=("examples/boto3_smoke.py")
else
  echo "skip: boto3 not importable"
fi

# Stop the server the way an operator would; it must drain and exit 0 within 10 s.
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  FAILED+=("eddy did not exit within 10 s of SIGTERM")
else
  status=0
  wait "$SERVER_PID" || status=$?
  SERVER_PID=""
  if [[ "$status" == 0 ]]; then
    echo "server stopped with SIGTERM (exit 0)"
  else
    FAILED+=("eddy exited with status $status after SIGTERM")
  fi
fi

if ((${#FAILED[@]})); then
  server_log
  printf 'run-smoke.sh: FAILED: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "run-smoke.sh: passed"
