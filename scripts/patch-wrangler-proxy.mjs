// Two changes to wrangler's proxy Worker (wrangler-dist/ProxyWorker.js), which streams each
// client's request to the runtime that runs the gateway (a second workerd process).
//
// 1. Keeps `wrangler dev` alive when a client hangs up in the middle of its request body. When
//    the client goes away mid-body, the proxy's fetch to the gateway fails before any answer
//    ("Network connection lost"), and the proxy reports that failure to wrangler as an error of
//    its own; wrangler treats every such error as fatal and exits. Nothing the gateway does can
//    prevent it: the failure happens before the gateway has anything to answer. This changes one
//    condition so that failures of requests with a body are no longer reported to wrangler; the
//    client still gets its error, when it still listens, and workerd still logs the cause.
//
// 2. Sends a request again, at most three times more (after 20, 100 and 500 ms), when the proxy's
//    fetch to the gateway's runtime fails before any answer, if the request has no body or a
//    small one (kept aside as it streams through, so it can be sent again). Under load on a busy machine, some
//    requests were lost on the proxy's pooled keep-alive connections to that runtime before the
//    runtime handed them to any Worker: the client got a 500 "Network connection lost." (503
//    "Your worker restarted mid-request" off the root path) and the gateway never saw them. The
//    upstream reports put it down to kj dropping idle pooled connections after 5 s on both sides
//    (client `idleTimeout`, server `pipelineTimeout`), so that a request written as the server
//    closes is lost; docs/local-runtime.md has our evidence, the issues and a reproduction.
//    wrangler retries only GET and HEAD, when it retries at all; a POST is sent again here only
//    when no answer at all came back, which in our runs always meant it had reached no Worker
//    (every resent request left exactly one log line of the gateway's).
//
// Idempotent; run by scripts/serve.sh before each start, as `npm ci` restores the original.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const file = join(root, "node_modules", "wrangler", "wrangler-dist", "ProxyWorker.js");

/** The largest body kept aside to be sendable again: far above the load's and tests' JSON. */
const RESENDABLE_BODY_BYTES = 1024 * 1024;

const forward = `
// Added by sdxl-gateway's scripts/patch-wrangler-proxy.mjs (see there for why).
async function sdxlForward(url, request, headers) {
  const declared = request.headers.get("content-length");
  const small = declared !== null && /^[0-9]+$/.test(declared) && Number(declared) <= ${RESENDABLE_BODY_BYTES};
  if (request.body !== null && !small) return fetch(url, new Request(request, { headers }));
  // Each attempt streams its own branch of the body as it arrives (a client that declares a body
  // and waits still gets the gateway's answer); the spare branch keeps it for the next attempt.
  let spare = request.body;
  // Each wait lets the runtime see the closes that arrived meanwhile, so the pool drops those
  // connections instead of handing out the next one the server is closing.
  for (const wait of [20, 100, 500, null]) {
    let body = null;
    if (spare !== null) [body, spare] = spare.tee();
    try {
      const response = await fetch(url, new Request(request, { headers, body }));
      spare?.cancel().catch(() => {});
      return response;
    } catch (error) {
      if (wait === null) {
        spare?.cancel().catch(() => {});
        throw error;
      }
      console.warn(\`[patched ProxyWorker] \${request.method} \${url.pathname} failed before any answer (\${error}); sending it again\`);
      await scheduler.wait(wait);
    }
  }
}
`;

const PATCHES = [
  {
    what: "a client hanging up mid-body no longer stops `wrangler dev`",
    original: "if (userWorkerUrl.href === newUserWorkerUrl?.href) {\n          void sendMessageToProxyController(",
    patched: "if (userWorkerUrl.href === newUserWorkerUrl?.href) {\n          if (request.body === null) void sendMessageToProxyController(",
  },
  {
    what: "a request lost on a closing keep-alive connection is sent again",
    original: "void fetch(userWorkerUrl, new Request(request, { headers })).then(",
    patched: "void sdxlForward(userWorkerUrl, request, headers).then(",
    append: forward,
  },
];

let source;
try {
  source = readFileSync(file, "utf8");
} catch {
  process.exit(0); // no wrangler installed here: nothing to patch
}
let changed = source;
const applied = [];
for (const { what, original, patched, append } of PATCHES) {
  if (changed.includes(patched)) continue;
  if (!changed.includes(original)) {
    console.warn(
      `[patch-wrangler-proxy] wrangler's ProxyWorker.js is not the one this patch knows (wrangler upgraded?): ` +
        `not patched, so it is no longer true that ${what}`,
    );
    continue;
  }
  changed = changed.replace(original, patched) + (append ?? "");
  applied.push(what);
}
if (changed === source) process.exit(0);
// Written aside and renamed: several servers may start at once (the end-to-end tests start three).
const temporary = `${file}.${process.pid}.tmp`;
writeFileSync(temporary, changed);
renameSync(temporary, file);
console.warn(`[patch-wrangler-proxy] patched wrangler's ProxyWorker.js: ${applied.join("; ")}`);
