#!/usr/bin/env bash
# A real single-node OpenSearch 2.19.6 for Eddy's OpenSearch connector tests, from Maven Central.
#
#   scripts/services/opensearch.sh install   resolve the node's jars with Maven, compile the launcher
#   scripts/services/opensearch.sh start     install if needed, start on 127.0.0.1, wait for health
#   scripts/services/opensearch.sh stop      stop the node started by `start`, remove its data
#   scripts/services/opensearch.sh env       print the EDDY_TEST_OPENSEARCH_URL export for tests
#   scripts/services/opensearch.sh status    say whether it is running
#
# The node is the server jar plus the Netty4 HTTP/transport plugin, started by a small launcher
# (opensearch/EddyOpenSearchNode.java) the way OpenSearch's test framework starts nodes: a Node
# subclass given the plugin classes on the classpath. No security plugin; needs Java 17.
#
# Cache:  ${EDDY_CACHE_DIR:-~/.cache/eddy}/opensearch/{lib,classes}, Maven repo .../m2
# State:  ${EDDY_SERVICES_DIR:-${TMPDIR:-/tmp}/eddy-services}/opensearch  (pid, log, home dir)
# Ports:  EDDY_OPENSEARCH_PORT (HTTP, default 19200), EDDY_OPENSEARCH_TRANSPORT_PORT (19300)
set -euo pipefail

OPENSEARCH_VERSION=2.19.6   # keep in step with opensearch/pom.xml
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC_DIR="$HERE/opensearch"
CACHE_DIR="${EDDY_CACHE_DIR:-$HOME/.cache/eddy}"
OS_CACHE="$CACHE_DIR/opensearch"
LIB_DIR="$OS_CACHE/lib"
CLASSES_DIR="$OS_CACHE/classes"
M2_REPO="$CACHE_DIR/m2"
STATE_DIR="${EDDY_SERVICES_DIR:-${TMPDIR:-/tmp}/eddy-services}/opensearch"
PID_FILE="$STATE_DIR/opensearch.pid"
LOG_FILE="$STATE_DIR/opensearch.log"
HOME_FILE="$STATE_DIR/home-dir"
PORT="${EDDY_OPENSEARCH_PORT:-19200}"
TRANSPORT_PORT="${EDDY_OPENSEARCH_TRANSPORT_PORT:-19300}"
HEAP="${EDDY_OPENSEARCH_HEAP:-512m}"
START_TIMEOUT="${EDDY_OPENSEARCH_START_TIMEOUT:-120}"
URL="http://127.0.0.1:$PORT"

log() { echo "[opensearch] $*" >&2; }

java_bin() {
  if [[ -n "${EDDY_JAVA_HOME:-}" ]]; then echo "$EDDY_JAVA_HOME/bin/$1"
  elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/$1" ]]; then echo "$JAVA_HOME/bin/$1"
  else echo "$1"; fi
}

check_java() {
  local java; java="$(java_bin java)"
  command -v "$java" >/dev/null || { log "java not found (set EDDY_JAVA_HOME to a JDK 17)"; exit 1; }
  local v; v="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  if [[ "$v" != 17 ]]; then
    # OpenSearch 2.19 runs on 11-21 in principle; the project pins 17, as the issue asks.
    log "warning: $java is Java $v; this node is tested with Java 17 (set EDDY_JAVA_HOME)"
  fi
}

source_hash() { cat "$SRC_DIR/EddyOpenSearchNode.java" "$SRC_DIR/pom.xml" | sha256sum | cut -c1-16; }

install() {
  check_java
  local t0=$SECONDS
  if [[ -f "$LIB_DIR/.resolved" && "$(cat "$LIB_DIR/.resolved")" == "$(sha256sum < "$SRC_DIR/pom.xml" | cut -c1-16)" ]]; then
    log "cached: $(ls "$LIB_DIR"/*.jar | wc -l) jars in $LIB_DIR"
  else
    command -v mvn >/dev/null || { log "mvn is not installed"; exit 1; }
    log "resolving org.opensearch:opensearch:$OPENSEARCH_VERSION + transport-netty4-client from Maven Central (Maven repo $M2_REPO)"
    rm -rf "$LIB_DIR.tmp"
    mvn -q -B -Dstyle.color=never -f "$SRC_DIR/pom.xml" -Dmaven.repo.local="$M2_REPO" \
      dependency:copy-dependencies -DoutputDirectory="$LIB_DIR.tmp" 2>&1 \
      | sed 's/\x1b\[[0-9;]*m//g'   # -q still prints bare colour resets
    rm -rf "$LIB_DIR" && mv "$LIB_DIR.tmp" "$LIB_DIR"
    sha256sum < "$SRC_DIR/pom.xml" | cut -c1-16 > "$LIB_DIR/.resolved"
    log "resolved $(ls "$LIB_DIR"/*.jar | wc -l) jars into $LIB_DIR in $((SECONDS - t0))s"
  fi
  if [[ -f "$CLASSES_DIR/.source" && "$(cat "$CLASSES_DIR/.source")" == "$(source_hash)" ]]; then
    log "cached: launcher in $CLASSES_DIR"
  else
    log "compiling the launcher into $CLASSES_DIR"
    rm -rf "$CLASSES_DIR" && mkdir -p "$CLASSES_DIR"
    "$(java_bin javac)" -nowarn -d "$CLASSES_DIR" -cp "$LIB_DIR/*" "$SRC_DIR/EddyOpenSearchNode.java"
    source_hash > "$CLASSES_DIR/.source"
  fi
  log "install done in $((SECONDS - t0))s"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

health() {
  curl -sS --max-time 2 "$URL/_cluster/health" 2>/dev/null \
    | grep -o '"status":"[a-z]*"' | cut -d'"' -f4
}

start() {
  install
  if pid="$(running_pid)"; then
    log "already running (pid $pid) at $URL"
    return 0
  fi
  local p
  for p in "$PORT" "$TRANSPORT_PORT"; do
    if port_in_use "$p"; then
      log "port 127.0.0.1:$p is already in use by another process; choose other ports (see the header)"
      exit 1
    fi
  done
  mkdir -p "$STATE_DIR"
  local home; home="$(mktemp -d "${TMPDIR:-/tmp}/eddy-opensearch-home.XXXXXX")"
  echo "$home" > "$HOME_FILE"
  mkdir -p "$home/config" "$home/tmp"
  cp "$SRC_DIR/log4j2.properties" "$home/config/"
  log "starting OpenSearch $OPENSEARCH_VERSION at $URL (transport 127.0.0.1:$TRANSPORT_PORT), home $home, log $LOG_FILE"
  setsid "$(java_bin java)" "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC \
    -Dlog4j2.formatMsgNoLookups=true -Djava.io.tmpdir="$home/tmp" -Dfile.encoding=UTF-8 \
    -Djava.awt.headless=true \
    -cp "$LIB_DIR/*:$CLASSES_DIR" EddyOpenSearchNode \
    cluster.name=eddy-test node.name=eddy-test-node \
    path.home="$home" path.data="$home/data" path.logs="$home/logs" \
    network.host=127.0.0.1 http.port="$PORT" transport.port="$TRANSPORT_PORT" \
    discovery.type=single-node action.auto_create_index=true \
    >"$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  local t0=$SECONDS status=""
  while :; do
    status="$(health || true)"
    [[ "$status" == green || "$status" == yellow ]] && break
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "exited during startup; last log lines:"; tail -n 40 "$LOG_FILE" >&2
      stop >/dev/null 2>&1; exit 1
    fi
    if (( SECONDS - t0 >= START_TIMEOUT )); then
      log "cluster not green/yellow after ${START_TIMEOUT}s (status: ${status:-no answer}); last log lines:"
      tail -n 40 "$LOG_FILE" >&2
      stop; exit 1
    fi
    sleep 0.5
  done
  log "cluster $status after $((SECONDS - t0))s (pid $(cat "$PID_FILE"))"
}

stop() {
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
  if [[ -f "$HOME_FILE" ]]; then
    local home; home="$(cat "$HOME_FILE")"
    [[ "$home" == */eddy-opensearch-home.* ]] && rm -rf "$home"
    rm -f "$HOME_FILE"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) echo "export EDDY_TEST_OPENSEARCH_URL=$URL" ;;
  status) if pid="$(running_pid)"; then echo "running (pid $pid) at $URL"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|env|status" >&2; exit 2 ;;
esac
