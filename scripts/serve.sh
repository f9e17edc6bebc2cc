#!/usr/bin/env bash
# Serves the gateway with the Workers AI stand-in on http://127.0.0.1:${PORT:-8787}.
# The same command backs `npm start` and the end-to-end tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# A client hanging up mid-body must not stop wrangler (see the script for why this patches it).
node scripts/patch-wrangler-proxy.mjs
# Permalink ids are signed with PERMALINK_SECRET, a secret in production. Local runs get one of
# their own, generated once into .dev.vars (git-ignored), which wrangler dev reads. Replacing it
# retires the permalinks made so far, nothing else.
if ! grep -qs '^PERMALINK_SECRET=' .dev.vars; then
  secret="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("hex"))')"
  printf 'PERMALINK_SECRET=%s\n' "$secret" >>.dev.vars
fi
# The jobs Worker (jobs.wrangler.toml) runs with the same settings, `--var`s included.
jobs_config="$(node scripts/jobs-config.mjs "$@")"
exec node_modules/.bin/wrangler dev -e local -c wrangler.toml -c emulator/wrangler.toml -c "$jobs_config" \
  --ip 127.0.0.1 --port "${PORT:-8787}" --show-interactive-dev-session=false "$@"
