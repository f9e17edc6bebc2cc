// Baseline "plain JS, storing": the plain JS Worker (plainjs.js) plus the cache tiers our Worker
// keeps every result in, kept the same way (src/cache_tiers.rs, src/generate.rs), so that what
// storing costs is attributed to storing and not to our Worker:
//
// - the key: SHA-256 by WebCrypto of each decoded image, then SHA-256 by WebCrypto of a canonical
//   text of the normalized inputs (the shape of sdxl-core's cache key v1; the same cost class);
// - a lookup only when the seed was given (a drawn seed is a key no one has asked for yet), and
//   not under `Cache-Control: no-store`/`no-cache`: this isolate's memory (an LRU capped at the
//   production MEMORY_CACHE_BYTES), then the Cache API (`<origin>/images/<key>`), then R2
//   (`images/<key>`), every entry checked to be a whole image; an R2 hit is copied into the
//   Cache API after the response;
// - a fresh result (unless `no-store`) into memory at once, then after the response
//   (`ctx.waitUntil`) into R2 alone when a bucket is bound (content type, `seed` metadata), else
//   (or when that write fails) into the Cache API (content type, immutable cache-control, ETag,
//   `x-seed`), a failed write logged and forgotten.
//
// Not copied: our Worker's single flight (identical requests in flight share one run), which no
// workload here exercises (the cache workload is all memory hits once warm), authentication, the
// rate limiter and the log line.
import { answerHeaders, readRequest, runModel, wholeImageFormat } from "./plainjs.js";

/** Production's MEMORY_CACHE_BYTES (wrangler.toml); a `MEMORY_CACHE_BYTES` var overrides it. */
const DEFAULT_MEMORY_CACHE_BYTES = 16 * 1024 * 1024;
const IMMUTABLE = "public, max-age=31536000, immutable";
const KEY_VERSION_LINE = "sdxl-gateway cache key v1";

/** A least-recently-used map bounded by the total size of its values (a Map keeps use order). */
class BoundedLru {
  constructor(budget) {
    this.budget = budget;
    this.used = 0;
    this.entries = new Map();
  }

  /** Changes the budget, evicting as needed (as ours applies its setting on every request). */
  setBudget(budget) {
    this.budget = budget;
    this.evictTo(budget);
  }

  get(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  insert(key, value, size) {
    this.remove(key);
    if (size > this.budget) return;
    this.evictTo(this.budget - size);
    this.entries.set(key, { value, size });
    this.used += size;
  }

  /** Evicts the least recently used entries until at most `budget` bytes are kept. */
  evictTo(budget) {
    for (const [oldest, entry] of this.entries) {
      if (this.used <= budget) break;
      this.entries.delete(oldest);
      this.used -= entry.size;
    }
  }

  remove(key) {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.used -= entry.size;
  }
}

/** Results this isolate served lately: {bytes, format, seed} by key. */
const memory = new BoundedLru(DEFAULT_MEMORY_CACHE_BYTES);

export default {
  async fetch(request, env, ctx) {
    const checked = await readRequest(request);
    if (checked instanceof Response) return checked;
    memory.setBudget(Number(env.MEMORY_CACHE_BYTES ?? DEFAULT_MEMORY_CACHE_BYTES));
    const key = await cacheKey(checked);
    const plan = cachePlan(request.headers, checked.seedDrawn);
    const url = `${new URL(request.url).origin}/images/${key}`;
    if (plan.lookUp) {
      const found = await lookUp(env, ctx, key, url);
      if (found !== null) return answer(found, key, checked, "HIT");
    }
    const made = await runModel(env, checked.inputs);
    if (made instanceof Response) return made;
    const stored = { ...made, seed: String(checked.seed) };
    if (!plan.store) return answer(stored, key, checked, "BYPASS");
    memory.insert(key, stored, stored.bytes.length);
    ctx.waitUntil(put(env, key, url, stored, { r2: true }));
    return answer(stored, key, checked, "MISS");
  },
};

/** What the client's caching headers allow, as sdxl-core's CachePlan reads them. */
function cachePlan(headers, seedDrawn) {
  const directives = (name) =>
    (headers.get(name) ?? "").split(",").map((d) => d.split("=")[0].trim().toLowerCase());
  const cacheControl = directives("cache-control");
  const noStore = cacheControl.includes("no-store");
  const noCache = cacheControl.includes("no-cache") || directives("pragma").includes("no-cache");
  return { lookUp: !noStore && !noCache && !seedDrawn, store: !noStore };
}

/** SHA-256 (hex) of a canonical text of the normalized inputs, each image by its own SHA-256. */
async function cacheKey({ model, inputs, images }) {
  let text = `${KEY_VERSION_LINE}\nmodel:${model}\n`;
  for (const [name, value] of Object.entries(inputs)) {
    if (images[name] !== undefined) {
      text += `${name}:img:${await sha256Hex(images[name])}\n`;
    } else if (typeof value === "string") {
      text += `${name}:str:${JSON.stringify(value)}\n`;
    } else {
      text += `${name}:${Number.isInteger(value) ? "int" : "num"}:${Object.is(value, -0) ? 0 : value}\n`;
    }
  }
  return sha256Hex(new TextEncoder().encode(text));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const byte of digest) hex += HEX[byte];
  return hex;
}

/** The result for `key` from memory, else the Cache API, else R2; a tier that fails is a miss. */
async function lookUp(env, ctx, key, url) {
  const inMemory = memory.get(key);
  if (inMemory !== undefined) return inMemory;
  let found = null;
  try {
    const hit = await caches.default.match(url);
    if (hit) found = verified(new Uint8Array(await hit.arrayBuffer()), hit.headers.get("x-seed"));
  } catch (e) {
    console.warn(`cache api read of ${key} failed: ${e}`);
  }
  if (found === null && env.IMAGES) {
    try {
      const object = await env.IMAGES.get(`images/${key}`);
      if (object) {
        found = verified(new Uint8Array(await object.arrayBuffer()), object.customMetadata?.seed ?? null);
        if (found !== null) ctx.waitUntil(put(env, key, url, found, { r2: false }));
      }
    } catch (e) {
      console.warn(`r2 read of ${key} failed: ${e}`);
    }
  }
  if (found !== null) memory.insert(key, found, found.bytes.length);
  return found;
}

/** A stored entry is served only if it is still a whole image (a corrupt entry is a miss). */
function verified(bytes, seed) {
  const format = wholeImageFormat(bytes);
  return format === null ? null : { bytes, format, seed };
}

/**
 * Writes a fresh result (`r2`) to R2 when bound, else to the Cache API; a result read from R2
 * (not `r2`) to the Cache API.
 */
async function put(env, key, url, { bytes, format, seed }, { r2 }) {
  if (r2 && env.IMAGES) {
    try {
      const customMetadata = seed !== null ? { seed } : {};
      await env.IMAGES.put(`images/${key}`, bytes, { httpMetadata: { contentType: format }, customMetadata });
      return;
    } catch (e) {
      console.warn(`r2 write of ${key} failed: ${e}`);
    }
  }
  try {
    const headers = { "content-type": format, "cache-control": IMMUTABLE, etag: `"${key}"` };
    if (seed !== null) headers["x-seed"] = seed;
    await caches.default.put(url, new Response(bytes, { headers }));
  } catch (e) {
    console.warn(`cache api write of ${key} failed: ${e}`);
  }
}

function answer({ bytes, format, seed }, key, checked, cache) {
  const headers = {
    "content-type": format,
    ...answerHeaders(checked),
    "x-seed": seed ?? String(checked.seed),
    "x-cache": cache,
    etag: `"${key}"`,
    "cache-control": cache === "BYPASS" ? "no-store" : IMMUTABLE,
  };
  return new Response(bytes, { headers });
}
