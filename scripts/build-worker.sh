#!/usr/bin/env bash
# Builds the Worker crate in directory $1 with worker-build, offline: wasm-bindgen comes from
# `cargo install wasm-bindgen-cli` and wasm-opt/esbuild from node_modules, never from downloads.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${1:-.}"
# Extra local instances (the end-to-end tests start several) reuse the first one's build.
# The entry module (wrangler.toml's main) and its helpers sit beside worker-build's index.js,
# which they import.
copy_entry() { if [ -f src/entry.js ]; then cp src/entry.js src/entry-replay.js build/; fi; }
if [ "${SKIP_WORKER_BUILD:-}" = "1" ] && [ -f build/index.js ]; then
  echo "[build] SKIP_WORKER_BUILD=1: reusing $(pwd)/build" >&2
  copy_entry
  exit 0
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/scripts/wasm-opt.sh}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
bash "$root/scripts/rustc-probe-retry.sh" worker-build --release
copy_entry
