#!/usr/bin/env bash
# Installs whatever is missing for building, serving and testing; quick when nothing is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '[setup] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

worker_build_version=0.8.7
if ! worker-build --version 2>/dev/null | grep -qx "$worker_build_version"; then
  say "installing worker-build $worker_build_version (a few minutes)"
  bash scripts/rustc-probe-retry.sh cargo install "worker-build@$worker_build_version" --locked
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock. `--locked` fails
# for it on this registry (webpki-roots), so it is installed without.
bindgen_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
  say "installing wasm-bindgen-cli $bindgen_version (a few minutes)"
  bash scripts/rustc-probe-retry.sh cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund
fi

# Headless Chromium for the playground's browser test (tests/e2e/playground.test.mjs), from
# Debian. Not fatal: serving needs no browser, and without one that test fails saying so.
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium (for the browser test)"
  as_root=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  fi
  if ! { ${as_root[@]+"${as_root[@]}"} apt-get update &&
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends chromium; }; then
    say "could not install chromium; the browser test will fail until /usr/bin/chromium exists"
  fi
fi
