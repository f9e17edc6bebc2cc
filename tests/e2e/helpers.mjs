// Shared helpers of the end-to-end tests: requests to the gateway, the stand-in's admin API,
// and image decoding.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { standinCallInit } from "../../scripts/standin-call.js";

export const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8787";
/** The same gateway with `ALLOW_ANONYMOUS=false` and tokens `tok-alpha`, `tok-beta`. */
export const LOCKED = process.env.LOCKED_URL;
/** The same gateway with `ALLOW_ANONYMOUS=false` and no token configured. */
export const CLOSED = process.env.CLOSED_URL;
export const MODEL = "@cf/bytedance/stable-diffusion-xl-lightning";

/**
 * BASE serves the production configurations (the rehearsal: scripts/rehearse.mjs, started by
 * tests/e2e/run.mjs): tokens required, no local admin routes, webhooks `https` only. Tests of
 * what only a local configuration allows are skipped there.
 */
export const REHEARSAL = process.env.E2E_REHEARSAL === "1";
/** The tokens BASE accepts (the rehearsal's API_TOKENS); none when BASE takes anyone. */
export const TOKENS = (process.env.E2E_TOKENS ?? "").split(",").filter(Boolean);
/** The stand-in's admin API: its own address in the rehearsal, else BASE's `/__standin/*`. */
const STANDIN = process.env.STANDIN_URL ?? BASE;

/**
 * What the caller at client address `ip` sends to BASE to be let in: nothing where BASE takes
 * anyone; otherwise a token of its own, the same for the same address. The first token is left
 * to rehearsal.test.mjs, which spends its rate limit.
 */
export function credentialsFor(ip) {
  if (TOKENS.length === 0) return {};
  const pool = TOKENS.length > 1 ? TOKENS.slice(1) : TOKENS;
  let h = 0;
  for (const c of ip) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { authorization: `Bearer ${pool[h % pool.length]}` };
}

/** The token of `credentialsFor(ip)`, for clients that take a key (SDKs); `fallback` if none. */
export const tokenFor = (ip, fallback) =>
  credentialsFor(ip).authorization?.slice("Bearer ".length) ?? fallback;

/** `headers` for a request from `ip` to `url`: its address, and its credentials when to BASE. */
const callerHeaders = (ip, url, headers = {}) => ({
  "cf-connecting-ip": ip,
  ...(new URL(url).origin === new URL(BASE).origin ? credentialsFor(ip) : {}),
  ...headers,
});

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
export const fixture = (name) => readFileSync(join(fixtures, name));

/** A prompt no other test uses, so per-prompt counters and armed faults stay ours. */
export const uniquePrompt = (label) =>
  `${label} ${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

/**
 * A client address of its own. The local rate limit is per `cf-connecting-ip` (which Cloudflare's
 * edge sets in production); tests that are not about rate limiting stay under it this way.
 */
export const someIp = () =>
  `10.${(Math.random() * 256) | 0}.${(Math.random() * 256) | 0}.${(Math.random() * 256) | 0}`;

/** `fetch` from a client address of its own (see `someIp`), with its credentials. */
export const api = (url, init = {}) =>
  fetch(url, { ...init, headers: callerHeaders(someIp(), url, init.headers) });

/**
 * A request from client address `ip`: JSON when `body` is given (an object, or text as it is).
 */
export const fetchAs = (ip, path, { method = "GET", body, headers = {}, base = BASE } = {}) =>
  fetch(`${base}${path}`, {
    method,
    headers: callerHeaders(ip, `${base}${path}`, {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    }),
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

export async function generate(body, { path = "/", headers = {}, base = BASE, signal } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    signal,
    headers: callerHeaders(someIp(), `${base}${path}`, { "content-type": "application/json", ...headers }),
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes, status: res.status, type: res.headers.get("content-type") };
}

export async function json(res, bytes) {
  assertJsonType(res);
  return JSON.parse(bytes.toString("utf8"));
}

function assertJsonType(res) {
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new Error(`expected JSON, got ${type}`);
}

/** Arms the stand-in of `standin` (by default the instance under test's) for a prompt. */
export async function arm(promptContains, behaviour, extra = {}, standin = STANDIN) {
  const res = await fetch(`${standin}/__standin/arm`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt_contains: promptContains, behaviour, ...extra }),
  });
  if (res.status !== 200) throw new Error(`arming failed: ${res.status} ${await res.text()}`);
}

/**
 * The base64 of a PNG of random pixels: noise does not compress, so a 320x256 one is ~240 KiB of
 * base64, more than a job's queue messages carry inline.
 */
export function noisePngBase64(width = 320, height = 256) {
  const png = new PNG({ width, height });
  for (let i = 0; i < png.data.length; i++) png.data[i] = (Math.random() * 256) | 0;
  return PNG.sync.write(png).toString("base64");
}

/**
 * `AI.run(model, inputs, options)` on the stand-in itself, as the rehearsal's AI relay calls it
 * (`POST /__standin/run`; a multipart run's stream is the request's body): `{kind: "json",
 * value}`, `{kind: "stream", bytes}` or `{kind: "error", name, message}` of what it threw.
 */
export async function runOnStandin(model, inputs, options) {
  const res = await fetch(`${STANDIN}/__standin/run`, standinCallInit(model, inputs, options));
  const kind = res.headers.get("x-standin-answer");
  if (kind === "json") return { kind, value: await res.json() };
  if (kind === "stream") return { kind, bytes: Buffer.from(await res.arrayBuffer()) };
  if (kind === "error") return { kind, ...(await res.json()) };
  throw new Error(`the stand-in answered ${res.status}: ${await res.text()}`);
}

export async function runsFor(prompt) {
  return (await statsFor(prompt)).prompt_runs;
}

/** The stand-in's counters for `prompt` (and the options of its last run) on instance `base`. */
export async function statsFor(prompt, base = BASE) {
  const admin = base === BASE ? STANDIN : base;
  const res = await fetch(`${admin}/__standin/stats?prompt=${encodeURIComponent(prompt)}`);
  return res.json();
}

export function decodePng(bytes) {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, rgba: png.data };
}

export function decodeJpeg(bytes) {
  const img = jpeg.decode(bytes, { useTArray: true });
  return { width: img.width, height: img.height, rgba: img.data };
}

/** Fraction of pixels (RGB) that differ between two same-size RGBA buffers. */
export function differingPixels(a, b) {
  if (a.length !== b.length) throw new Error("different sizes");
  let differ = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) differ++;
  }
  return differ / (a.length / 4);
}

/** The cache key of an image response (its entity tag, unquoted). */
export const keyOf = (res) => res.headers.get("etag")?.replaceAll('"', "");

/** The shape of a permalink: `/images/<cache key>-<tag>`, the tag signed with the gateway's secret. */
export const PERMALINK = /^\/images\/([0-9a-f]{64})-[0-9a-f]{32}$/;

/** The permalink an answer gives (`content-location`), the only way to learn it. */
export const permalinkOf = (res) => res.headers.get("content-location");

/**
 * Waits until the result at `permalink` (a path, as `permalinkOf` gives it) is readable: results
 * are stored after the response is sent (waitUntil), so a test must not race the write.
 */
export async function storedAt(permalink, timeoutMs = 10_000, base = BASE) {
  if (!PERMALINK.test(permalink ?? "")) throw new Error(`not a permalink: ${permalink}`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${base}${permalink}`, { headers: { "cf-connecting-ip": someIp() } });
    await res.arrayBuffer();
    if (res.status === 200) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${permalink} was not stored within ${timeoutMs} ms`);
}

/** Empties the memory and Cache API tiers for `key` (local admin, so not in the rehearsal), leaving R2. */
export async function dropFromCacheApi(key) {
  const res = await fetch(`${BASE}/__admin/cache-api/${key}`, { method: "DELETE" });
  if (res.status !== 200) throw new Error(`cache delete failed: ${res.status}`);
  return (await res.json()).deleted;
}
