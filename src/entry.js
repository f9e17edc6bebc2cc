// The Worker's entry module (wrangler.toml's `main`, copied next to worker-build's output by
// scripts/build-worker.sh). Everything is decided in the Wasm (build/index.js) except one thing:
// an exact repeat of a request whose answer the Wasm marked as replayable is answered from here,
// without entering the Wasm.
//
// Why: a cache hit costs the Wasm about twice what answering a fixed image costs, spread thinly
// over reading the head, the body, validation, the key, headers and the crossings between JS and
// Wasm (BENCHMARKS.md, "What was tried"). A repeat of the same request gets the same answer, so
// that work can be done once.
//
// What is replayed, and how (sdxl_core::replay decides what the Wasm marks):
// - only answers carrying the internal header `x-gateway-replay` (a 200 from the memory tier, for
//   a GET or POST that was neither conditional nor `no-cache`/`no-store`); the header is removed
//   here, always;
// - only for a request identical in method, URL, every request header the Wasm reads that shapes
//   its answer and its body (at most MAX_BODY bytes, given with Content-Length), from any caller;
//   HEAD and If-None-Match never replay;
// - a replay still passes the rate limiter, with the key the Wasm would use for its caller
//   (`Callers`: an address with anonymous access on, else a token the Wasm has accepted in this
//   isolate; a token not seen yet goes to the Wasm, which checks it); over the limit, the
//   request goes to the Wasm, which answers the 429 (counting it once more, for a caller already
//   over the limit in this window);
// - it writes the Wasm's log line for the request, with its own request id and timings, and its
//   own `x-request-id` and `server-timing`;
// - the remembered answers are bounded by the byte cap the Wasm sends (its share of
//   MEMORY_CACHE_BYTES: sdxl_core::replay::split_memory_cache), least recently used first out;
//   they are all forgotten when a call into the Wasm throws (it may have trapped, and its memory
//   tier gone) and when a local admin route answers (it may have emptied a tier).
//
// The default export is a plain object: the runtime does not construct an entrypoint class per
// request for it. Requests the Wasm answers call worker-build's class's `fetch`; the class itself
// is constructed only after a trap, when its proxy re-instantiates the Wasm
// (tests/e2e/trap.test.mjs).
import Gateway from "./index.js";
import {
  Callers,
  REPLAY_HEADER,
  ReplayCache,
  candidate,
  emptiesTiers,
  fingerprint,
  lineMiddle,
  readNote,
  replayLine,
  requestId,
} from "./entry-replay.js";

/** The response headers that differ for every request: set afresh on a replay. */
const FRESH = ["x-request-id", "server-timing"];
const replays = new ReplayCache();
const callers = new Callers();
/** Replays served, in all and (local runs only) by caller, for `GET /__admin/replays`. */
let served = 0;
const servedBy = new Map();
/**
 * worker-build's glue keeps the Wasm instance's state here: `criticalError` once it trapped,
 * `instanceId` counting re-instantiations. A trapped request hangs rather than throwing, so this
 * is how the entry learns the Wasm (and its memory tier) is gone.
 */
let instanceSeen = 0;
function wasmStillTheSame() {
  const state = globalThis.__worker_init_state;
  if (state === undefined) return true;
  if (!state.criticalError && state.instanceId === instanceSeen) return true;
  replays.clear();
  if (!state.criticalError) instanceSeen = state.instanceId;
  return false;
}

// A replay validates nothing and looks up synchronously: its phases take no time (Date.now()
// does not advance without I/O anyway), written as the Wasm writes them.
const NO_TIME = { validate: 0, cache: 0, ai: 0 };
const SERVER_TIMING = "validate;dur=0.0, cache;dur=0.0, ai;dur=0.0";

/**
 * The replay of `entry` for `request`, or null when the Wasm is to answer it: its caller is not
 * known here yet, or is over the rate limit (the Wasm answers the 429).
 */
async function replay(entry, request, env, started) {
  const rateKey = callers.rateKey(request.headers);
  if (rateKey === undefined) return null;
  const limiter = env.RATE_LIMITER;
  if (limiter !== undefined) {
    const { success } = await limiter.limit({ key: rateKey });
    if (!success) return null;
  }
  const id = requestId(request.headers);
  console.log(replayLine(entry.lineMiddle, id, NO_TIME, Date.now() - started));
  const response = new Response(entry.body, { status: entry.status, headers: entry.headers });
  response.headers.set("x-request-id", id);
  response.headers.set("server-timing", SERVER_TIMING);
  served += 1;
  if (env.LOCAL_ADMIN === "true") servedBy.set(rateKey, (servedBy.get(rateKey) ?? 0) + 1);
  return response;
}

/**
 * The Wasm's answer, its note removed; remembered when the note says so and `key` is set, and
 * the caller of `request` (its `headers`) learned.
 */
async function remember(response, key, headers) {
  const value = response.headers.get(REPLAY_HEADER);
  if (value === null) return response;
  response.headers.delete(REPLAY_HEADER);
  if (key === undefined) return response;
  const note = readNote(value);
  const middle = note === null ? null : lineMiddle(note.logText);
  if (middle === null) return response;
  callers.learn(headers, note.rateKey);
  const body = new Uint8Array(await response.arrayBuffer());
  // Kept as a Headers object: each replay's Response copies it within the runtime.
  const kept = new Headers(response.headers);
  let size = key.length * 2 + body.byteLength + middle.length * 2;
  for (const name of FRESH) kept.delete(name);
  for (const [name, v] of kept) size += (name.length + v.length) * 2;
  const entry = {
    status: response.status,
    headers: kept,
    body,
    lineMiddle: middle,
    size,
  };
  replays.put(key, entry, note.cap);
  return new Response(body, { status: response.status, headers: response.headers });
}

/**
 * The Wasm's `fetch`. worker-build's class is constructed only when the Wasm has trapped: its
 * constructor is what re-instantiates it. Otherwise its `fetch` method (which hands the Wasm
 * `this.env` and `this.ctx`) is called on a plain object: constructing a `WorkerEntrypoint` and
 * the proxies around it and its method cost every request a few microseconds (BENCHMARKS.md,
 * "What was tried"). A trap thrown here is marked as the class's proxy marks it.
 */
async function wasmFetch(request, env, ctx) {
  const state = globalThis.__worker_init_state;
  try {
    if (state === undefined || state.criticalError) {
      return await new Gateway(ctx, env).fetch(request);
    }
    return await Gateway.prototype.fetch.call({ env, ctx }, request);
  } catch (error) {
    if (state !== undefined && error instanceof WebAssembly.RuntimeError) {
      console.error("Critical", error);
      state.criticalError = true;
    }
    // Perhaps a trap: the Wasm is re-instantiated, its memory tier empty.
    replays.clear();
    throw error;
  }
}

export default {
  async fetch(request, env, ctx) {
    const started = Date.now();
    const path = new URL(request.url).pathname;
    if (env.LOCAL_ADMIN === "true" && path === "/__admin/replays") {
      // Local runs only (as the Wasm's admin routes): what the replay cache holds and has served
      // (`?caller=ip:<address>`: to that caller).
      const caller = new URL(request.url).searchParams.get("caller");
      const { bytes, peak, entries } = replays;
      const count = caller === null ? served : (servedBy.get(caller) ?? 0);
      return Response.json({ entries: entries.size, bytes, peak, served: count });
    }
    let key;
    let forWasm = request;
    if (candidate(request)) {
      const body = request.method === "POST" ? new Uint8Array(await request.arrayBuffer()) : null;
      key = fingerprint(request.method, request.url, request.headers, body);
      const entry = wasmStillTheSame() ? replays.get(key) : undefined;
      if (entry !== undefined) {
        const replayed = await replay(entry, request, env, started);
        if (replayed !== null) return replayed;
      }
      if (body !== null) forWasm = new Request(request, { body });
    }
    const response = await wasmFetch(forWasm, env, ctx);
    wasmStillTheSame();
    // The local admin route that empties a tier empties this cache too; no other request does
    // (a query or a path that merely contains it must not drop everyone's replays).
    if (emptiesTiers(request.method, path, response.status, env.LOCAL_ADMIN === "true")) {
      replays.clear();
    }
    return remember(response, key, request.headers);
  },
};
