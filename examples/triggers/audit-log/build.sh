#!/usr/bin/env bash
# Builds audit_log.wasm from assembly/index.ts with AssemblyScript (npm `assemblyscript`,
# installed into this folder's node_modules/ from package-lock.json).
# `--runtime stub` keeps the runtime to a bump allocator; `--use abort=` drops the
# `env.abort` import, so the only imports are the `eddy` host functions.
# The built module is committed, so only someone who changes the source needs this.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null; then
  echo "npm not found: install Node.js 20+ and npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -x node_modules/.bin/asc ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

npx --no-install asc assembly/index.ts --outFile audit_log.wasm \
  -O3 --runtime stub --use abort= --initialMemory 1

if command -v wasm-validate >/dev/null; then wasm-validate audit_log.wasm; fi
echo "audit_log.wasm: $(wc -c <audit_log.wasm) bytes (assemblyscript $(npx --no-install asc --version | sed 's/^Version //'))"
