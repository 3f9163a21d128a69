#!/usr/bin/env bash
# Checks the committed example trigger modules; builds nothing and needs no guest toolchain.
#
#   examples/triggers/check.sh                  # uses target/debug/eddy for the end-to-end step
#   examples/triggers/check.sh path/to/eddy
#
# 1. wasm-validate (Debian `wabt`) on each .wasm, if installed.
# 2. The guest ABI of docs/triggers.md (exports, imports only from `eddy`, exact signatures)
#    and the modules' behaviour on made-up batches, run in Node.js by a stand-in host
#    (check/host.mjs, check/examples.test.mjs; Node 20+, no packages).
# 3. End to end against a fresh `eddy serve` on a free port and a temporary data dir
#    (check/e2e.py, boto3): the README steps plus a few hundred random order changes, checking
#    that CustomerTotals equals a recomputation from Orders, that AuditLog has one item per
#    change, and the count-filter's counts. If the binary serves the trigger API
#    (`/v1/triggers`), the modules are deployed and run by Eddy; if not, e2e.py runs them in
#    Node.js on the server's own stream records (DynamoDB Streams API) and applies their
#    write-backs through the DynamoDB API, and the result line says so.
#
# Prints a closing line "N passed, N failed" and exits 1 if anything failed.
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EDDY="${1:-$HERE/../../target/debug/eddy}"
PASSED=0
FAILED=0
pass() { echo "ok   $*"; PASSED=$((PASSED + 1)); }
failed() { echo "FAIL $*" >&2; FAILED=$((FAILED + 1)); }

MODULES=(count-filter/count_filter.wasm order-totals/order_totals.wasm audit-log/audit_log.wasm)

# ---- 1. wasm-validate -------------------------------------------------------------------
if command -v wasm-validate >/dev/null; then
  for m in "${MODULES[@]}"; do
    if wasm-validate "$HERE/$m"; then
      pass "wasm-validate $m ($(wc -c <"$HERE/$m") bytes)"
    else
      failed "wasm-validate $m"
    fi
  done
else
  echo "skip: wasm-validate not found (apt-get install wabt)"
fi

# ---- 2. the stand-in host ----------------------------------------------------------------
if command -v node >/dev/null; then
  if out="$(cd "$HERE" && node --test --test-reporter=spec check/ 2>&1)"; then
    pass "node --test check/ ($(grep -Eo 'pass [0-9]+' <<<"$out" | tail -n1) tests)"
  else
    echo "$out" >&2
    failed "node --test check/"
  fi
else
  echo "skip: node not found; the ABI and behaviour checks need Node.js 20+"
fi

# ---- 3. end to end against eddy serve ----------------------------------------------------
e2e() {
  if [[ ! -x "$EDDY" ]]; then
    echo "skip: end to end: no eddy binary at $EDDY (cargo build --bin eddy)"
    return
  fi
  if ! python3 -c 'import boto3' 2>/dev/null; then
    echo "skip: end to end: boto3 not importable"
    return
  fi
  local tmp pid endpoint="" line status
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/eddy-triggers.XXXXXX")"
  "$EDDY" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  for _ in $(seq 1 300); do
    line="$(grep -m1 'listening on http://' "$tmp/stdout" 2>/dev/null || true)"
    if [[ -n "$line" ]]; then endpoint="http://${line##*listening on http://}"; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$endpoint" ]]; then
    failed "end to end: $EDDY serve did not start"
    tail -n 20 "$tmp/stderr" >&2
  else
    python3 "$HERE/check/e2e.py" "$endpoint" | tee "$tmp/e2e.out"
    status=${PIPESTATUS[0]}
    if [[ "$status" == 0 ]]; then
      pass "end to end against $EDDY serve: $(tail -n1 "$tmp/e2e.out" | sed 's/^e2e.py: //')"
    else
      failed "end to end against $EDDY serve"
      tail -n 30 "$tmp/stderr" >&2
    fi
  fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
e2e

echo "$PASSED passed, $FAILED failed"
[[ "$FAILED" == 0 ]]
