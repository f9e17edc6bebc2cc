// Keeps `wrangler dev` alive when a client hangs up in the middle of its request body.
//
// wrangler's proxy Worker (wrangler-dist/ProxyWorker.js) streams each client's request to the
// gateway. When the client goes away mid-body, the proxy's fetch to the gateway fails before any
// answer ("Network connection lost"), and the proxy reports that failure to wrangler as an error
// of its own; wrangler treats every such error as fatal and exits. Nothing the gateway does can
// prevent it: the failure happens before the gateway has anything to answer. This changes one
// condition so that failures of requests with a body are no longer reported to wrangler; the
// client still gets its error, when it still listens, and workerd still logs the cause.
// Idempotent; run by scripts/serve.sh before each start, as `npm ci` restores the original.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const file = join(root, "node_modules", "wrangler", "wrangler-dist", "ProxyWorker.js");
const original = "if (userWorkerUrl.href === newUserWorkerUrl?.href) {\n          void sendMessageToProxyController(";
const patched = "if (userWorkerUrl.href === newUserWorkerUrl?.href) {\n          if (request.body === null) void sendMessageToProxyController(";

let source;
try {
  source = readFileSync(file, "utf8");
} catch {
  process.exit(0); // no wrangler installed here: nothing to patch
}
if (source.includes(patched)) process.exit(0);
if (!source.includes(original)) {
  console.warn(
    "[patch-wrangler-proxy] wrangler's ProxyWorker.js is not the one this patch knows (wrangler upgraded?): " +
      "left as is; a client hanging up mid-body may stop `wrangler dev`",
  );
  process.exit(0);
}
// Written aside and renamed: several servers may start at once (the end-to-end tests start three).
const temporary = `${file}.${process.pid}.tmp`;
writeFileSync(temporary, source.replace(original, patched));
renameSync(temporary, file);
console.warn("[patch-wrangler-proxy] patched wrangler's ProxyWorker.js: a client hanging up mid-body no longer stops `wrangler dev`");
