#!/usr/bin/env bash
# Builds count_filter.wasm from count_filter.wat with wat2wasm (Debian package `wabt`).
# The built module is committed, so only someone who changes the .wat needs this.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v wat2wasm >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing wabt (wat2wasm, wasm-validate)" >&2
    apt-get install -y -qq wabt >/dev/null || { apt-get update -qq && apt-get install -y -qq wabt >/dev/null; }
  else
    echo "wat2wasm not found: install Debian's wabt (apt-get install wabt)" >&2
    exit 1
  fi
fi

wat2wasm count_filter.wat -o count_filter.wasm
wasm-validate count_filter.wasm
echo "count_filter.wasm: $(wc -c <count_filter.wasm) bytes ($(wat2wasm --version))"
