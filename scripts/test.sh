#!/usr/bin/env bash
# Every test, at every level: lint, native `cargo test` of the pure code, wasm-bindgen-test of the
# JS boundary, a production deploy bundle, and end-to-end tests over HTTP against `npm start`'s setup
# and against the production configurations (the rehearsal).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false

step() { printf '\n=== %s\n' "$*" >&2; }
cargo() { bash scripts/rustc-probe-retry.sh cargo "$@"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (host and wasm32)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --target wasm32-unknown-unknown -- -D warnings

step "cargo clippy pedantic (advisory: reported, not failing; the pedantic allows in the code answer it)"
cargo clippy --workspace --all-targets -- -W clippy::pedantic 2>&1 | grep -E '^warning: ' | sort | uniq -c | sort -rn || true

step "cargo test (native: core, stand-in)"
cargo test --workspace

step "fuzz replay (every fuzz target's seeds and found regressions, and random mutations, on stable: fuzz/tests/replay.rs)"
cargo test --manifest-path fuzz/Cargo.toml --test replay

step "node --test tests/js (the entry module's replay of repeats, without the Wasm)"
node --test tests/js/

step "wasm-bindgen-test (what crosses the JS boundary: AI.run inputs and options, model answers, masks through the runtime's zlib; in Node)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p sdxl-worker --target wasm32-unknown-unknown

step "wrangler deploy --dry-run (production configs, real AI binding: the jobs Worker, then the gateway)"
rm -rf dist && mkdir -p dist/jobs
node_modules/.bin/wrangler deploy --dry-run -c jobs.wrangler.toml --outdir dist/jobs 2>&1 | tee dist/jobs/dry-run.log
node_modules/.bin/wrangler deploy --dry-run --outdir dist 2>&1 | tee dist/dry-run.log
grep "Total Upload" dist/jobs/dry-run.log dist/dry-run.log
# Each Worker's bundle stays within 250 KiB gzip (the size every isolate loads; BENCHMARKS.md).
for log in dist/jobs/dry-run.log dist/dry-run.log; do
  kib="$(grep -o 'gzip: [0-9.]*' "$log" | awk '{print $2}')"
  awk -v kib="$kib" -v file="$log" 'BEGIN {
    if (kib == "" || kib + 0 > 250) { printf "%s: %s KiB gzip, over the 250 KiB limit\n", file, kib; exit 1 }
  }'
done

step "end to end over HTTP (scripts/serve.sh, as npm start; then the production rehearsal, scripts/rehearse.mjs)"
node tests/e2e/run.mjs

step "benchmark smoke run (checks the harness works; figures too short to quote)"
node bench/run.mjs --smoke
