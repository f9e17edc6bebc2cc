#!/usr/bin/env bash
# Builds the Worker crate in directory $1 with worker-build, offline: wasm-bindgen comes from
# `cargo install wasm-bindgen-cli` and wasm-opt/esbuild from node_modules, never from downloads.
# At the repository's root, `build-worker.sh .` builds the gateway (workers/gateway, into build/;
# wrangler.toml) and `build-worker.sh . jobs` the jobs Worker (workers/jobs, into build-jobs/;
# jobs.wrangler.toml). Elsewhere (emulator/, bench/…) the folder is the crate.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${1:-.}"
out=build
crate=.
if [ -d workers/gateway ]; then
  crate=workers/gateway
  if [ "${2:-}" = "jobs" ]; then
    out=build-jobs
    crate=workers/jobs
  fi
fi
# Extra local instances (the end-to-end tests start several) reuse the first one's build.
# The entry module (wrangler.toml's main) and its helpers sit beside worker-build's index.js,
# which they import.
copy_entry() { if [ "$out" = build ] && [ -f src/entry.js ]; then cp src/entry.js src/entry-replay.js build/; fi; }
# The served documents (GET /models, /openapi.json), made from the same tables as the Wasm and
# served from the static assets beside the playground (sdxl_core::documents says why).
write_documents() {
  if [ "$out" = build ] && [ -d playground ] && [ -f core/src/bin/documents.rs ]; then
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" bash "$root/scripts/rustc-probe-retry.sh" \
      cargo run --quiet -p sdxl-core --bin documents -- playground/documents
  fi
}
if [ "${SKIP_WORKER_BUILD:-}" = "1" ] && [ -f "$out/index.js" ]; then
  echo "[build] SKIP_WORKER_BUILD=1: reusing $(pwd)/$out" >&2
  copy_entry
  [ -f playground/documents/openapi.json ] || write_documents
  exit 0
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/scripts/wasm-opt.sh}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
# wrangler dev builds every Worker it serves, maybe at once; both share the workspace's target/
# and the adapter library's build in it: one build at a time.
mkdir -p "$root/target"
exec 9>"$root/target/.worker-build.lock"
flock 9
# worker-build puts its output under the crate's folder unless given an absolute path.
bash "$root/scripts/rustc-probe-retry.sh" worker-build --release --out-dir "$(pwd)/$out" "$crate"
write_documents
copy_entry
