#!/usr/bin/env bash
# Builds order_totals.wasm from order_totals.c with Debian's clang and lld (wasm-ld):
# freestanding wasm32, no libc, no WASI; the only imports are the `eddy` host functions.
# The built module is committed, so only someone who changes the C source needs this.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing clang and lld" >&2
    apt-get install -y -qq clang lld >/dev/null || { apt-get update -qq && apt-get install -y -qq clang lld >/dev/null; }
  else
    echo "clang/wasm-ld not found: install Debian's clang and lld (apt-get install clang lld)" >&2
    exit 1
  fi
fi

clang --target=wasm32 -O2 -nostdlib -ffreestanding -Wall -Wextra \
  -Wl,--no-entry -Wl,--export=alloc -Wl,--export=handle -Wl,--strip-all \
  -o order_totals.wasm order_totals.c

# wasm-validate comes with wabt; skip it quietly when wabt is not installed.
if command -v wasm-validate >/dev/null; then wasm-validate order_totals.wasm; fi
echo "order_totals.wasm: $(wc -c <order_totals.wasm) bytes ($(clang --version | head -n1))"
