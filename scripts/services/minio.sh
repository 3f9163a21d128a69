#!/usr/bin/env bash
# MinIO (community edition, built from source) for Eddy's S3 connector tests.
#
#   scripts/services/minio.sh install   build the pinned MinIO with `go install` (cached)
#   scripts/services/minio.sh start     install if needed, start on 127.0.0.1, wait until live
#   scripts/services/minio.sh stop      stop the server started by `start`, remove its data
#   scripts/services/minio.sh env       print the EDDY_TEST_S3_* exports for tests
#   scripts/services/minio.sh status    say whether it is running
#
# Cache:  ${EDDY_CACHE_DIR:-~/.cache/eddy}/go  (GOPATH, GOMODCACHE, GOBIN=go/bin/minio)
# State:  ${EDDY_SERVICES_DIR:-${TMPDIR:-/tmp}/eddy-services}/minio  (pid, log, data dir)
# Ports:  EDDY_MINIO_PORT (default 19000), EDDY_MINIO_CONSOLE_PORT (default 19001)
set -euo pipefail

# `@latest` resolved to this pseudo-version on the Go module proxy (MinIO publishes no semver
# tags, so the proxy serves commits as pseudo-versions). Pinned so every machine builds the same.
MINIO_VERSION="${EDDY_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

CACHE_DIR="${EDDY_CACHE_DIR:-$HOME/.cache/eddy}"
GO_DIR="$CACHE_DIR/go"
BIN="$GO_DIR/bin/minio"
STAMP="$GO_DIR/bin/minio.version"
STATE_DIR="${EDDY_SERVICES_DIR:-${TMPDIR:-/tmp}/eddy-services}/minio"
PID_FILE="$STATE_DIR/minio.pid"
LOG_FILE="$STATE_DIR/minio.log"
DATA_FILE="$STATE_DIR/data-dir"
PORT="${EDDY_MINIO_PORT:-19000}"
CONSOLE_PORT="${EDDY_MINIO_CONSOLE_PORT:-19001}"
ACCESS_KEY="${EDDY_MINIO_ACCESS_KEY:-eddytest}"
SECRET_KEY="${EDDY_MINIO_SECRET_KEY:-eddytest-secret-key}"
REGION="us-east-1"
START_TIMEOUT="${EDDY_MINIO_START_TIMEOUT:-60}"

log() { echo "[minio] $*" >&2; }

install() {
  if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$MINIO_VERSION" ]]; then
    log "cached: $BIN ($MINIO_VERSION)"
    return 0
  fi
  command -v go >/dev/null || { log "go is not installed"; exit 1; }
  mkdir -p "$GO_DIR/bin"
  local t0=$SECONDS
  log "building github.com/minio/minio@$MINIO_VERSION with $(go env GOVERSION) (first run: several minutes)"
  log "GOPATH=$GO_DIR GOBIN=$GO_DIR/bin"
  # -buildvcs=false: nothing to stamp from a module download. CGO off: a static binary, no C deps.
  GOPATH="$GO_DIR" GOMODCACHE="$GO_DIR/pkg/mod" GOBIN="$GO_DIR/bin" \
    GOFLAGS="-buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
    nice -n "${EDDY_BUILD_NICE:-10}" go install "github.com/minio/minio@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$STAMP"
  log "built $BIN in $((SECONDS - t0))s"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

live() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/minio/health/live"; }

start() {
  install
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  local p
  for p in "$PORT" "$CONSOLE_PORT"; do
    if port_in_use "$p"; then
      log "port 127.0.0.1:$p is already in use by another process; choose other ports (see the header)"
      exit 1
    fi
  done
  mkdir -p "$STATE_DIR"
  local data; data="$(mktemp -d "${TMPDIR:-/tmp}/eddy-minio-data.XXXXXX")"
  echo "$data" > "$DATA_FILE"
  log "starting on 127.0.0.1:$PORT (console 127.0.0.1:$CONSOLE_PORT), data $data, log $LOG_FILE"
  MINIO_ROOT_USER="$ACCESS_KEY" MINIO_ROOT_PASSWORD="$SECRET_KEY" MINIO_REGION="$REGION" \
    MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
    setsid "$BIN" server "$data" --address "127.0.0.1:$PORT" \
      --console-address "127.0.0.1:$CONSOLE_PORT" >"$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  local t0=$SECONDS
  until live; do
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "exited during startup; last log lines:"; tail -n 30 "$LOG_FILE" >&2
      stop >/dev/null 2>&1; exit 1
    fi
    if (( SECONDS - t0 >= START_TIMEOUT )); then
      log "not live after ${START_TIMEOUT}s; last log lines:"; tail -n 30 "$LOG_FILE" >&2
      stop; exit 1
    fi
    sleep 0.2
  done
  log "live after $((SECONDS - t0))s (pid $(cat "$PID_FILE"))"
}

stop() {
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
  if [[ -f "$DATA_FILE" ]]; then
    local data; data="$(cat "$DATA_FILE")"
    [[ "$data" == */eddy-minio-data.* ]] && rm -rf "$data"
    rm -f "$DATA_FILE"
  fi
}

print_env() {
  echo "export EDDY_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT EDDY_TEST_S3_ACCESS_KEY=$ACCESS_KEY EDDY_TEST_S3_SECRET_KEY=$SECRET_KEY EDDY_TEST_S3_REGION=$REGION"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status) if pid="$(running_pid)"; then echo "running (pid $pid) on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|env|status" >&2; exit 2 ;;
esac
