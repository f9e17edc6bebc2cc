#!/usr/bin/env bash
# wasm-opt (npm binaryen) as worker-build calls it, minus `--debuginfo`: worker-build always asks
# to keep the function-name section, ~28 KB of the gzipped bundle. Without it, Wasm frames in
# stack traces are unnamed; the gateway never shows stack traces to clients anyway.
set -euo pipefail
args=()
for arg in "$@"; do
  [ "$arg" = "--debuginfo" ] || args+=("$arg")
done
# The Wasm is built with SIMD (.cargo/config.toml), a feature worker-build does not enable.
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node_modules/.bin/wasm-opt" "${args[@]}" --enable-simd
