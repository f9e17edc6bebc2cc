// The pure parts of the entry module's replay of exact repeats (src/entry.js says what is
// replayed and why): the cache, the fingerprint, the note from the Wasm and the log line. Kept
// apart so Node can test them (tests/js/entry.test.mjs) without the Wasm or the runtime.

export const REPLAY_HEADER = "x-gateway-replay";
/** Larger bodies are never remembered: reading them here first would cost every such request. */
export const MAX_BODY = 4096;
/**
 * The request headers the Wasm reads (src/request_head.rs) that shape its answer. Left out:
 * `cf-ray` (the request id) and the caller's `Authorization` and `cf-connecting-ip`, which only
 * name who is rate limited ([`Callers`]): the same request by another caller gets the same answer.
 */
const READ = ["accept", "origin", "cache-control", "pragma", "content-type"];
/** Longer `Authorization` values are never remembered (a bearer token is far shorter). */
const MAX_AUTHORIZATION = 512;

/**
 * Who a request's caller is, as the Wasm names it for the rate limiter
 * (`sdxl_core::request_head::RequestHead::caller`), learned from the Wasm's notes: with anonymous
 * access on, `ip:<cf-connecting-ip>` whatever the credentials (the Wasm does not check them);
 * otherwise `token:<id>` for an `Authorization` value the Wasm accepted. A value it has not
 * accepted in this isolate is unknown here, and its request goes to the Wasm, which checks it.
 * The settings cannot change within an isolate, so what is learned stays true.
 */
export class Callers {
  constructor(limit = 256) {
    /** "address" or "token" once a note said which; undefined before. */
    this.mode = undefined;
    this.tokens = new Map();
    this.limit = limit;
  }

  /** What the note for a request with these `headers` says: its caller's `rateKey`. */
  learn(headers, rateKey) {
    if (rateKey.startsWith("ip:")) {
      this.mode = "address";
    } else if (rateKey.startsWith("token:")) {
      this.mode = "token";
      const value = headers.get("authorization");
      if (value === null || value.length > MAX_AUTHORIZATION) return;
      this.tokens.delete(value);
      this.tokens.set(value, rateKey);
      for (const oldest of this.tokens.keys()) {
        if (this.tokens.size <= this.limit) break;
        this.tokens.delete(oldest);
      }
    }
  }

  /** The rate limiter's key for a request with these `headers`, or undefined if not known. */
  rateKey(headers) {
    if (this.mode === "address") {
      const address = headers.get("cf-connecting-ip");
      return address === null || address === "" ? "ip:unknown" : `ip:${address}`;
    }
    if (this.mode === "token") {
      const value = headers.get("authorization");
      return value === null ? undefined : this.tokens.get(value);
    }
    return undefined;
  }

  clear() {
    this.mode = undefined;
    this.tokens.clear();
  }
}

/** Least recently used first out, within `cap` bytes (the latest cap the Wasm sent). */
export class ReplayCache {
  constructor() {
    this.entries = new Map();
    this.bytes = 0;
    this.peak = 0;
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  put(key, entry, cap) {
    this.delete(key);
    if (entry.size > cap) return;
    this.entries.set(key, entry);
    this.bytes += entry.size;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= cap) break;
      this.entries.delete(oldest);
      this.bytes -= old.size;
    }
    this.peak = Math.max(this.peak, this.bytes);
  }

  delete(key) {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= old.size;
    }
  }

  clear() {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * The identity of a request for replaying, or undefined when it never replays. `body` is its
 * bytes (POST) or null (GET).
 */
export function fingerprint(method, url, headers, body) {
  let key = `${method}\n${url}`;
  for (const name of READ) {
    const value = headers.get(name);
    key += value === null ? "\n\u0001" : `\n=${value}`;
  }
  // One character per byte: equal strings are equal bytes.
  key += "\n";
  if (body !== null && body.length > 0) key += String.fromCharCode.apply(null, body);
  return key;
}

/**
 * Whether a request may be fingerprinted: GET, or POST with a small stated body, neither
 * conditional nor asking not to use the cache. The Wasm never marks the answer to a
 * `no-store`/`no-cache` request replayable (sdxl_core::replay::replayable), so fingerprinting it
 * would only cost it: its body read here and copied into a new Request for the Wasm. Matched as
 * text, more loosely than sdxl_core::headers::ClientCaching reads the directives: a request
 * wrongly left out is only not replayed.
 */
export function candidate(request) {
  const { method, headers } = request;
  if (NO_CACHE.test(headers.get("cache-control") ?? "")) return false;
  if (NO_CACHE.test(headers.get("pragma") ?? "")) return false;
  if (headers.has("if-none-match")) return false;
  if (method === "GET") return request.body === null;
  if (method !== "POST") return false;
  const length = headers.get("content-length");
  if (length === null || !/^[0-9]{1,5}$/.test(length)) return false;
  return Number(length) <= MAX_BODY;
}

const NO_CACHE = /no-(store|cache)/i;

/** A number as serde_json writes an f64 (`3.0`, `0.5`), for log lines identical to Rust's. */
export function rustFloat(x) {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/**
 * The request id, as src/trace.rs makes it: `cf-ray` when usable, else 32 random hex digits
 * (`randomUUID`'s, which the runtime makes natively; ids need to be unique, not secret).
 */
export function requestId(headers) {
  const ray = headers.get("cf-ray");
  if (ray !== null && ray.length > 0 && ray.length <= 64 && /^[\x00-\x7f]*$/.test(ray)) return ray;
  return crypto.randomUUID().replaceAll("-", "");
}

/**
 * What a replay's log line keeps of the Wasm's line for the same request (`note.log`, which the
 * Wasm sent with an empty request id): all between the id and the timings. Null if the line is
 * not of that shape (then nothing is remembered).
 */
export function lineMiddle(logText) {
  const head = '{"request_id":"",';
  const tail = logText.lastIndexOf(',"ms":{');
  if (!logText.startsWith(head) || tail < head.length) return null;
  return logText.slice(head.length, tail);
}

/** The log line of a replay: `lineMiddle` of the Wasm's line, with this request's values. */
export function replayLine(middle, id, ms, totalMs) {
  return (
    `{"request_id":${JSON.stringify(id)},${middle},"ms":{"validate":${rustFloat(ms.validate)},` +
    `"cache":${rustFloat(ms.cache)},"ai":${rustFloat(ms.ai)}},"total_ms":${rustFloat(totalMs)}}`
  );
}

/** The note's JSON text split into its fields and the log line's raw text. */
export function readNote(value) {
  const text = decodeURIComponent(value);
  const note = JSON.parse(text);
  const at = text.lastIndexOf(',"log":');
  if (at < 0) return null;
  return { rateKey: note.rate_key, cap: note.cache_bytes, logText: text.slice(at + 7, -1) };
}

/**
 * Whether an answered request emptied a cache tier, so the replays made from it must go: only
 * the local admin route that does so (`DELETE /__admin/cache-api/<key>`, answered 200, with
 * `LOCAL_ADMIN` on). A path or query that merely contains `/__admin/` empties nothing.
 */
export function emptiesTiers(method, path, status, localAdmin) {
  return localAdmin && status === 200 && method === "DELETE" && path.startsWith("/__admin/cache-api/");
}
