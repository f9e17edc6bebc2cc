// Production hardening: auth, CORS, rate limits, limits, upstream faults, observability.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BASE,
  CLOSED,
  LOCKED,
  api,
  arm,
  fixture,
  generate,
  permalinkOf,
  runsFor,
  storedAt,
  uniquePrompt,
} from "./helpers.mjs";

const small = { width: 256, height: 256 };
const locked = (body, headers = {}) => generate(body, { base: LOCKED, headers });

// --- auth -------------------------------------------------------------------------------------

test("locked: no token is a 401 with WWW-Authenticate and the envelope", async () => {
  const r = await locked({ prompt: "a", ...small, seed: 1 });
  assert.equal(r.status, 401);
  assert.equal(r.res.headers.get("www-authenticate"), "Bearer");
  const body = JSON.parse(r.bytes);
  assert.equal(body.success, false);
  assert.equal(body.errors[0].code, 10000);
  assert.equal(body.request_id, r.res.headers.get("x-request-id"));
});

test("locked: a wrong or malformed token is a 401", async () => {
  for (const authorization of ["Bearer tok-gamma", "Bearer tok-alph", "tok-alpha", "Basic dG9rLWFscGhh"]) {
    const r = await locked({ prompt: "a", ...small, seed: 1 }, { authorization });
    assert.equal(r.status, 401, authorization);
  }
});

test("locked: each configured token is accepted", async () => {
  for (const token of ["tok-alpha", "tok-beta"]) {
    const r = await locked({ prompt: uniquePrompt("authorized"), ...small, seed: 1 }, { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, token);
    assert.equal(r.type, "image/png");
  }
});

test("locked: GET generation needs the token too; permalinks and preflights do not", async () => {
  const qs = new URLSearchParams({ prompt: uniquePrompt("get locked"), seed: "1", width: "256", height: "256" });
  assert.equal((await api(`${LOCKED}/?${qs}`)).status, 401);
  const ok = await api(`${LOCKED}/?${qs}`, { headers: { authorization: "Bearer tok-beta" } });
  assert.equal(ok.status, 200);
  const link = permalinkOf(ok);
  await ok.arrayBuffer();
  let permalink;
  for (let i = 0; i < 100; i++) {
    permalink = await api(`${LOCKED}${link}`);
    await permalink.arrayBuffer();
    if (permalink.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(permalink.status, 200, "the permalink is public");
  const preflight = await api(`${LOCKED}/`, {
    method: "OPTIONS",
    headers: { origin: "https://anywhere.example", "access-control-request-method": "POST" },
  });
  assert.equal(preflight.status, 204);
});

test("closed: with no token configured and anonymous access off, everything is refused", async () => {
  for (const authorization of [undefined, "Bearer tok-alpha", "Bearer "]) {
    const r = await generate(
      { prompt: "a", ...small, seed: 1 },
      { base: CLOSED, headers: authorization ? { authorization } : {} },
    );
    assert.equal(r.status, 401);
    assert.match(JSON.parse(r.bytes).errors[0].message, /no API token is configured|API token/);
  }
});

test("open (local default): anonymous, and a token that is sent is not checked", async () => {
  const r = await generate({ prompt: uniquePrompt("anon"), ...small, seed: 1 }, { headers: { authorization: "Bearer whatever" } });
  assert.equal(r.status, 200);
});

// --- CORS -------------------------------------------------------------------------------------

test("CORS preflight from an allowed origin names methods and headers", async () => {
  const res = await api(`${BASE}/`, {
    method: "OPTIONS",
    headers: {
      origin: "http://localhost:5173",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "http://localhost:5173");
  assert.match(res.headers.get("access-control-allow-methods"), /POST/);
  assert.match(res.headers.get("access-control-allow-headers"), /authorization/);
  assert.match(res.headers.get("access-control-allow-headers"), /content-type/);
});

test("CORS: a disallowed origin gets no CORS headers, on preflight or request", async () => {
  const pre = await api(`${BASE}/`, {
    method: "OPTIONS",
    headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
  });
  assert.equal(pre.headers.get("access-control-allow-origin"), null);
  const r = await generate({ prompt: uniquePrompt("cors no"), ...small, seed: 1 }, { headers: { origin: "https://evil.example" } });
  assert.equal(r.status, 200);
  assert.equal(r.res.headers.get("access-control-allow-origin"), null);
});

test("CORS: an allowed origin can read x-seed, x-cache, etag and x-request-id", async () => {
  const r = await generate({ prompt: uniquePrompt("cors yes"), ...small, seed: 1 }, { headers: { origin: "http://localhost:5173" } });
  assert.equal(r.res.headers.get("access-control-allow-origin"), "http://localhost:5173");
  const exposed = r.res.headers.get("access-control-expose-headers").split(/,\s*/);
  for (const h of ["x-seed", "x-cache", "etag", "x-request-id"]) assert.ok(exposed.includes(h), h);
  // Errors carry CORS headers too, so a browser app can read the envelope.
  const bad = await generate({ prompt: "" }, { headers: { origin: "http://localhost:5173" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.res.headers.get("access-control-allow-origin"), "http://localhost:5173");
});

test("CORS '*' is used only when configured", async () => {
  const r = await locked({ prompt: "a" }, { origin: "https://anywhere.example" });
  assert.equal(r.res.headers.get("access-control-allow-origin"), "*");
});

// --- rate limiting ----------------------------------------------------------------------------

test("over the rate limit: 429 with Retry-After and the envelope", async () => {
  const ip = "192.0.2.77"; // one caller; the local limit is 50 per 10 s
  const statuses = [];
  let limited;
  // Enough that one fixed 10 s window surely holds more than 50 of them, wherever it rolls over.
  for (let i = 0; i < 150 && !limited; i++) {
    const res = await api(`${BASE}/images/${"0".repeat(64)}`, { headers: { "cf-connecting-ip": ip } });
    statuses.push(res.status);
    if (res.status === 429) limited = res;
    else await res.arrayBuffer();
  }
  assert.ok(limited, `no 429 in ${statuses.length} requests`);
  assert.equal(limited.headers.get("retry-after"), "10");
  const body = await limited.json();
  assert.equal(body.errors[0].code, 3021);
  // Another caller is not affected.
  const other = await api(`${BASE}/images/${"0".repeat(64)}`);
  assert.equal(other.status, 404);
});

// --- limits -----------------------------------------------------------------------------------

test("a prompt over the configured length is a 400 naming the bound", async () => {
  const r = await generate({ prompt: "x".repeat(2049) });
  assert.equal(r.status, 400);
  const e = JSON.parse(r.bytes).errors[0];
  assert.deepEqual([e.path, e.rule, e.limit], ["/prompt", "max_length", 2048]);
});

test("an input image over the configured pixel count is a 400 naming the bound", async () => {
  const r = await locked(
    { prompt: "a", image: [...fixture("photo-64x48.png")] },
    { authorization: "Bearer tok-alpha" },
  );
  assert.equal(r.status, 400);
  const e = JSON.parse(r.bytes).errors[0];
  assert.deepEqual([e.path, e.rule, e.limit], ["/image", "max_pixels", 3000]);
});

// --- the model failing ------------------------------------------------------------------------

test("capacity once: retried with backoff, the client sees a 200", async () => {
  const prompt = uniquePrompt("capacity once");
  await arm(prompt, "capacity", { times: 1 });
  const r = await generate({ prompt, ...small, seed: 1 });
  assert.equal(r.status, 200);
  assert.equal(await runsFor(prompt), 2);
});

test("capacity that persists: a bounded number of tries, then 503 with Retry-After", async () => {
  const prompt = uniquePrompt("capacity always");
  await arm(prompt, "capacity", { times: 0 });
  const r = await generate({ prompt, ...small, seed: 1 });
  assert.equal(r.status, 503);
  assert.equal(r.res.headers.get("retry-after"), "10");
  const body = JSON.parse(r.bytes);
  assert.equal(body.errors[0].code, 3040);
  assert.equal(body.request_id, r.res.headers.get("x-request-id"));
  assert.equal(await runsFor(prompt), 3, "1 try + AI_RETRIES=2");
  const again = await generate({ prompt, ...small, seed: 1 });
  assert.equal(again.status, 503, "the failure was not cached");
});

test("upstream input rejection is a 400 with the upstream reason, not retried", async () => {
  const prompt = uniquePrompt("upstream 5006");
  await arm(prompt, "bad_input");
  const r = await generate({ prompt, ...small, seed: 1 });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.bytes).errors[0].message, /armed to refuse this input/);
  assert.equal(await runsFor(prompt), 1);
});

test("no answer within AI_TIMEOUT_MS is a 504", async () => {
  const prompt = uniquePrompt("too slow");
  // The model would answer (200) after 8 s: a 504 is the deadline's answer, not the model's.
  await arm(prompt, "slow", { delay_ms: 8000 });
  const r = await generate({ prompt, ...small, seed: 1 });
  assert.equal(r.status, 504);
  assert.match(JSON.parse(r.bytes).errors[0].message, /did not answer within 5000 ms/);
});

// --- observability ----------------------------------------------------------------------------

test("every response has x-request-id and Server-Timing; errors carry the id in the body", async () => {
  const ok = await generate({ prompt: uniquePrompt("observed"), ...small, seed: 1 });
  assert.match(ok.res.headers.get("x-request-id"), /^[0-9a-f]{32}$/);
  const timing = ok.res.headers.get("server-timing");
  for (const phase of ["validate", "cache", "ai"]) assert.match(timing, new RegExp(`${phase};dur=\\d`));
  for (const [path, init] of [["/nope", {}], ["/", { method: "PUT" }], ["/", { method: "POST", body: "{" }]]) {
    const res = await api(`${BASE}${path}`, init);
    const id = res.headers.get("x-request-id");
    assert.ok(id, path);
    assert.equal((await res.json()).request_id, id);
  }
});

test("the request id is cf-ray when Cloudflare sent one", async () => {
  const r = await generate({ prompt: "" }, { headers: { "cf-ray": "8f1c2d3e4a5b6c7d-LHR" } });
  assert.equal(r.res.headers.get("x-request-id"), "8f1c2d3e4a5b6c7d-LHR");
  assert.equal(JSON.parse(r.bytes).request_id, "8f1c2d3e4a5b6c7d-LHR");
});

test("a result served from cache still reports a cache timing and MISS → HIT", async () => {
  const prompt = uniquePrompt("timed");
  const first = await generate({ prompt, ...small, seed: 2 });
  assert.equal(first.status, 200);
  assert.equal(first.res.headers.get("x-cache"), "MISS");
  assert.equal(first.res.headers.get("x-cache-tier"), null);
  await storedAt(permalinkOf(first.res));
  const hit = await generate({ prompt, ...small, seed: 2 });
  assert.equal(hit.res.headers.get("x-cache"), "HIT");
  assert.match(hit.res.headers.get("server-timing"), /ai;dur=0\.0/);
});
