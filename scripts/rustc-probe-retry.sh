#!/usr/bin/env bash
# Runs a command that runs cargo (`cargo ...`, `worker-build ...`), and runs it once more when
# cargo failed to probe rustc ("failed to run `rustc` to learn about target-specific
# information"). With cargo 1.95 on these machines, in a fresh target directory, `cargo clippy`
# then `cargo test` did it at will on 2026-11-27 (docs/testing.md): the second command's probe `rustc -`
# compiles the text of an earlier cargo run's messages, and cargo caches that failure in
# <target dir>/.rustc_info.json, so every later cargo command of the run fails the same way. The
# file is only a cache: removed, cargo probes again and succeeds. Any other failure is returned as
# it is. Output: stderr joins stdout (this is for logs).
#
#   scripts/rustc-probe-retry.sh cargo test --workspace
set -uo pipefail
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ] &&
  grep -q -e "to learn about target-specific information" -e 'rustc -vV` ()' "$log"; then
  manifest=()
  args=("$@")
  for i in "${!args[@]}"; do
    if [ "${args[$i]}" = "--manifest-path" ]; then manifest=(--manifest-path "${args[$((i + 1))]}"); fi
  done
  target_dir="$(cargo metadata --no-deps --format-version 1 ${manifest[@]+"${manifest[@]}"} 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  rm -f "${target_dir:-target}/.rustc_info.json"
  echo "[rustc-probe-retry] cargo's probe of rustc failed; its cache removed, once more: $*" >&2
  "$@"
  exit $?
fi
exit "$status"
