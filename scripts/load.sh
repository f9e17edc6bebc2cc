#!/usr/bin/env bash
# The full load run: serves the gateway as `npm start` does, on its own state and port, and sends
# 10,000 mixed requests at concurrency 64 (tests/load/load.mjs). Extra arguments go to the script,
# which also checks wrangler's output for the gateway's log line of every answer (GATEWAY_LOG).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
port="${PORT:-8797}"
state="$(mktemp -d)"
# In a process group of its own (setsid), so what it started (wrangler, workerd, the builds) is
# stopped by that group's id, and nothing else on the machine that happens to match a pattern.
setsid env PORT="$port" bash scripts/serve.sh --persist-to "$state" > "$state/wrangler.log" 2>&1 &
server=$!
trap 'kill -- -"$server" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$port/__standin/stats" > /dev/null && break
  sleep 1
done
BASE_URL="http://127.0.0.1:$port" GATEWAY_LOG="$state/wrangler.log" node tests/load/load.mjs "$@"
