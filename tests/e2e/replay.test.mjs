// Exact repeats answered by the entry module without entering the Wasm (src/entry.js): a
// replay is the Wasm's answer byte for byte and header for header (but the request id and the
// timings), is still rate limited (under its own caller's key), and is never given for anything
// but an identical request (whoever makes it: the caller is not part of the answer).
// `GET /__admin/replays?caller=ip:<address>` (local runs only) counts the replays served to a
// caller; each test is a caller of its own, so tests running at once do not disturb the counts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createHash } from "node:crypto";
import { BASE, LOCKED, MODEL, fetchAs, someIp, uniquePrompt } from "./helpers.mjs";

const small = { width: 256, height: 256 };
const FRESH = new Set(["x-request-id", "server-timing", "date"]);

async function replays(ip, { caller = `ip:${ip}`, base = BASE } = {}) {
  const query = ip === undefined && base === BASE ? "" : `?caller=${encodeURIComponent(caller)}`;
  const res = await fetch(`${base}/__admin/replays${query}`);
  assert.equal(res.status, 200);
  return res.json();
}

/** One request from `ip`, its headers as an object and its bytes. */
async function send(ip, { method = "POST", body, path = "/", headers = {}, base = BASE } = {}) {
  const res = await fetchAs(ip, path, { method, body, headers, base });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, status: res.status, bytes, headers: Object.fromEntries(res.headers) };
}

/** The headers but those that differ for every request. */
const stable = (headers) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !FRESH.has(name)));

/** A seeded request made until the entry can replay it: a miss, then a memory-tier hit. */
async function warmed(ip, init) {
  const first = await send(ip, init);
  assert.equal(first.status, 200, first.bytes.toString());
  assert.equal(first.headers["x-cache"], "MISS");
  const hit = await send(ip, init);
  assert.equal(hit.headers["x-cache"], "HIT");
  assert.equal(hit.headers["x-cache-tier"], "memory");
  return hit;
}

test("a repeat is answered identically, headers included, and counted as a replay", async () => {
  const ip = someIp();
  const init = {
    body: { prompt: uniquePrompt("replay same"), ...small, seed: 5 },
    headers: { origin: "http://127.0.0.1:5173" },
  };
  const hit = await warmed(ip, init);
  const before = (await replays(ip)).served;
  const again = await send(ip, init);
  const third = await send(ip, init);
  assert.equal((await replays(ip)).served, before + 2, "both repeats replayed");
  for (const r of [again, third]) {
    assert.equal(r.status, 200);
    assert.ok(r.bytes.equals(hit.bytes));
    assert.deepEqual(stable(r.headers), stable(hit.headers));
    assert.match(r.headers["x-request-id"], /^[0-9a-f]{32}$/);
    assert.notEqual(r.headers["x-request-id"], hit.headers["x-request-id"]);
    assert.match(r.headers["server-timing"], /^validate;dur=[0-9.]+, cache;dur=[0-9.]+, ai;dur=[0-9.]+$/);
    assert.equal(r.headers["x-gateway-replay"], undefined, "the internal note never leaves");
  }
  assert.equal(hit.headers["x-gateway-replay"], undefined);
  assert.equal(again.headers["access-control-allow-origin"], "http://127.0.0.1:5173");
  assert.notEqual(again.headers["x-request-id"], third.headers["x-request-id"]);
});

test("the envelope of the REST drop-in is replayed as the Wasm gives it", async () => {
  const ip = someIp();
  const init = {
    path: `/client/v4/accounts/acct/ai/run/${MODEL}`,
    body: { prompt: uniquePrompt("replay rest"), ...small, seed: 6 },
  };
  const hit = await warmed(ip, init);
  const before = (await replays(ip)).served;
  const again = await send(ip, init);
  assert.equal((await replays(ip)).served, before + 1);
  assert.ok(again.bytes.equals(hit.bytes));
  assert.deepEqual(stable(again.headers), stable(hit.headers));
});

test("HEAD and conditional requests are answered by the Wasm, as before", async () => {
  const ip = someIp();
  const qs = new URLSearchParams({ prompt: uniquePrompt("replay head"), width: "256", height: "256", seed: "7" });
  const init = { method: "GET", path: `/?${qs}` };
  const hit = await warmed(ip, init);
  const before = (await replays(ip)).served;
  const head = await send(ip, { ...init, method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.bytes.length, 0);
  assert.deepEqual(stable(head.headers), stable(hit.headers));
  const etag = hit.headers.etag;
  const held = await send(ip, { ...init, headers: { "if-none-match": etag } });
  assert.equal(held.status, 304);
  assert.equal(held.headers.etag, etag);
  const star = await send(ip, { ...init, headers: { "if-none-match": "*" } });
  assert.equal(star.status, 304);
  const other = await send(ip, { ...init, headers: { "if-none-match": '"not-it"' } });
  assert.equal(other.status, 200);
  assert.ok(other.bytes.equals(hit.bytes));
  assert.equal((await replays(ip)).served, before, "none of them replayed");
  // And the GET itself still replays afterwards.
  const again = await send(ip, init);
  assert.equal((await replays(ip)).served, before + 1);
  assert.deepEqual(stable(again.headers), stable(hit.headers));
});

test("a request without a seed is never replayed", async () => {
  const ip = someIp();
  const body = { prompt: uniquePrompt("replay seedless"), ...small };
  const before = await replays(ip);
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await send(ip, { body }));
  for (const r of answers) assert.equal(r.headers["x-cache"], "MISS");
  assert.equal(new Set(answers.map((r) => r.headers.etag)).size, 3, "three new images");
  const after = await replays(ip);
  assert.equal(after.served, before.served);
});

test("no-cache and no-store requests are never replayed", async () => {
  const ip = someIp();
  const body = { prompt: uniquePrompt("replay no-cache"), ...small, seed: 8 };
  await warmed(ip, { body });
  const before = (await replays(ip)).served;
  const fresh = await send(ip, { body, headers: { "cache-control": "no-cache" } });
  const again = await send(ip, { body, headers: { "cache-control": "no-cache" } });
  const bypass = await send(ip, { body, headers: { "cache-control": "no-store" } });
  assert.equal(bypass.headers["x-cache"], "BYPASS");
  assert.equal((await replays(ip)).served, before);
  assert.equal(fresh.status, 200);
  assert.equal(again.status, 200);
});

test("a changed header or body is not a replay", async () => {
  const ip = someIp();
  const body = { prompt: uniquePrompt("replay changed"), ...small, seed: 9 };
  const hit = await warmed(ip, { body });
  const variants = [
    { body: JSON.stringify(body) + " " },
    { body: { ...body, seed: 10 } },
    { body, headers: { accept: "application/json" } },
    { body, headers: { origin: "http://localhost:5173" } },
    { body, headers: { "content-type": "application/json; charset=utf-8" } },
  ];
  for (const init of variants) {
    const before = (await replays(ip)).served;
    const r = await send(ip, init);
    assert.equal(r.status, 200, JSON.stringify(init));
    assert.equal((await replays(ip)).served, before, `replayed: ${JSON.stringify(init)}`);
  }
});

test("the same request by another caller is replayed, counted under that caller", async () => {
  const ip = someIp();
  const body = { prompt: uniquePrompt("replay other caller"), ...small, seed: 12 };
  const hit = await warmed(ip, { body });
  // Anonymous access is on here: credentials are not checked, so they change nothing either.
  for (const headers of [{}, { authorization: "Bearer someone" }]) {
    const otherIp = someIp();
    const other = await send(otherIp, { body, headers });
    assert.equal((await replays(otherIp)).served, 1, JSON.stringify(headers));
    assert.ok(other.bytes.equals(hit.bytes));
    assert.deepEqual(stable(other.headers), stable(hit.headers));
  }
});

test("locked: a token is replayed only once the Wasm has accepted it", { skip: !LOCKED }, async () => {
  // The Wasm's rate-limit key of a token: `token:` and the first 8 bytes of its SHA-256, in hex.
  const callerOf = (token) =>
    `token:${createHash("sha256").update(token).digest("hex").slice(0, 16)}`;
  const served = async (token) =>
    (await replays(undefined, { caller: callerOf(token), base: LOCKED })).served;
  const ip = someIp();
  const body = { prompt: uniquePrompt("replay locked"), ...small, seed: 13 };
  const as = (token) =>
    send(ip, { body, base: LOCKED, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const first = await as("tok-alpha");
  assert.equal(first.status, 200, first.bytes.toString());
  assert.equal((await as("tok-alpha")).headers["x-cache-tier"], "memory");
  const alpha = await served("tok-alpha");
  const beta = await served("tok-beta");
  assert.equal((await as("tok-alpha")).status, 200);
  assert.equal(await served("tok-alpha"), alpha + 1, "an accepted token is replayed");
  // Not accepted in this isolate yet: the Wasm answers (and checks it), then it is known.
  const firstBeta = await as("tok-beta");
  assert.equal(firstBeta.headers["x-cache-tier"], "memory");
  assert.equal(await served("tok-beta"), beta);
  assert.equal((await as("tok-beta")).status, 200);
  assert.equal(await served("tok-beta"), beta + 1);
  // No token, or one the Wasm refuses: never replayed, always the Wasm's 401.
  for (const token of [undefined, "tok-gamma"]) {
    const refused = await as(token);
    assert.equal(refused.status, 401, String(token));
    assert.ok(refused.headers["www-authenticate"], String(token));
  }
});

test("replays are rate limited as the Wasm's answers are", async () => {
  const ip = "192.0.2.88"; // one caller; the local limit is 50 per 10 s
  const body = { prompt: uniquePrompt("replay limited"), ...small, seed: 11 };
  const init = { body };
  const before = (await replays(ip)).served;
  let limited;
  const statuses = [];
  // Enough that one fixed 10 s window surely holds more than 50 of them.
  for (let i = 0; i < 150 && !limited; i++) {
    const r = await send(ip, init);
    statuses.push(r.status);
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, `no 429 in ${statuses.length} requests`);
  assert.ok((await replays(ip)).served - before >= 10, "the requests before the 429 were replays");
  assert.equal(limited.headers["retry-after"], "10");
  assert.equal(JSON.parse(limited.bytes).errors[0].code, 3021);
  assert.equal(limited.headers["x-gateway-replay"], undefined);
});

test("the replay cache stays within its share of MEMORY_CACHE_BYTES", async () => {
  const report = await replays();
  const memory = await (await fetch(`${BASE}/__admin/memory`)).json();
  assert.ok(report.bytes <= report.peak);
  assert.ok(report.peak <= memory.replay_cache_bytes, JSON.stringify({ report, memory }));
  assert.equal(memory.replay_cache_bytes + memory.memory_tier_bytes, memory.memory_cache_bytes);
});
