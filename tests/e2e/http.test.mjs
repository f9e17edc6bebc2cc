// HTTP semantics caches rely on (HEAD, Vary: Origin, If-None-Match: *), and permalinks only
// those who were answered can know.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { test } from "node:test";
import {
  api,
  BASE,
  generate,
  keyOf,
  LOCKED,
  MODEL,
  PERMALINK,
  permalinkOf,
  someIp,
  statsFor,
  storedAt,
  uniquePrompt,
} from "./helpers.mjs";

const small = { width: 256, height: 256 };
/** An origin on the local instance's CORS list (`[env.local.vars]`). */
const ALLOWED = "http://localhost:5173";

/**
 * A request over a raw socket, so the test sees exactly the bytes the server sends (fetch and
 * node:http both drop a body that follows a HEAD response's headers). The server keeps the
 * connection a few seconds whatever `connection: close` says, so the answer is taken once the
 * headers are in and nothing more arrived for `settleMs`.
 */
function raw(method, path, headers = {}, base = BASE, settleMs = 300) {
  const { hostname, port } = new URL(base);
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, "connection: close"];
  for (const [name, value] of Object.entries({ "cf-connecting-ip": someIp(), ...headers })) {
    lines.push(`${name}: ${value}`);
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = connect(Number(port), hostname, () => socket.write(`${lines.join("\r\n")}\r\n\r\n`));
    let settle;
    const finish = () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const [statusLine, ...fields] = all.subarray(0, end).toString("latin1").split("\r\n");
      const head = new Map();
      for (const field of fields) {
        const colon = field.indexOf(":");
        head.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: head, rest: all.subarray(end + 4) });
    };
    socket.on("data", (c) => {
      chunks.push(c);
      clearTimeout(settle);
      if (Buffer.concat(chunks).includes("\r\n\r\n")) {
        settle = setTimeout(() => {
          socket.destroy();
          finish();
        }, settleMs);
      }
    });
    socket.on("error", reject);
    socket.on("end", () => {
      clearTimeout(settle);
      finish();
    });
  });
}

/** The headers of a response that must be the same for GET and HEAD. */
const ENTITY = ["content-type", "etag", "x-seed", "content-location", "cache-control", "vary"];

/**
 * GET and HEAD of `path`: HEAD sends no body, GET's headers, and as `content-length` the length
 * of GET's body. (GET is read with fetch: `wrangler dev` sends HTML chunked, so the length is
 * compared with the body rather than with a header.)
 */
async function assertHeadLikeGet(path, headers = {}) {
  const get = await api(`${BASE}${path}`, { headers });
  const body = Buffer.from(await get.arrayBuffer());
  const head = await raw("HEAD", path, headers);
  assert.equal(get.status, 200, `GET ${path}`);
  assert.equal(head.status, 200, `HEAD ${path}`);
  assert.equal(head.rest.length, 0, `HEAD ${path} sent ${head.rest.length} body bytes`);
  for (const name of ENTITY) {
    assert.equal(head.headers.get(name), get.headers.get(name) ?? undefined, `${name} of HEAD ${path}`);
  }
  assert.ok(body.length > 0, `GET ${path} has a body`);
  assert.equal(head.headers.get("content-length"), String(body.length), `content-length of HEAD ${path}`);
  return { get, head };
}

// --- HEAD -------------------------------------------------------------------------------------

test("HEAD on /, /models and /openapi.json: GET's headers, no body", async () => {
  const { head } = await assertHeadLikeGet("/", { accept: "text/html" });
  assert.match(head.headers.get("content-type"), /^text\/html/);
  for (const path of ["/models", "/openapi.json"]) {
    const { get } = await assertHeadLikeGet(path);
    assert.match(get.headers.get("content-type"), /^application\/json/);
  }
});

test("HEAD /images/<id>: the stored image's headers, no body", async () => {
  const made = await generate({ prompt: uniquePrompt("head permalink"), ...small, seed: 3 });
  const link = permalinkOf(made.res);
  await storedAt(link);
  const { head } = await assertHeadLikeGet(link);
  assert.equal(head.headers.get("content-type"), "image/png");
  assert.equal(Number(head.headers.get("content-length")), made.bytes.length);
  assert.equal(head.headers.get("content-location"), link);
});

test("HEAD on a GET generation: GET's headers from the cache, never a model run", async () => {
  const prompt = uniquePrompt("head generate");
  const path = `/?${new URLSearchParams({ prompt, width: "256", height: "256", seed: "4" })}`;

  const before = await raw("HEAD", path);
  assert.equal(before.status, 200);
  assert.equal(before.rest.length, 0);
  assert.equal(before.headers.get("x-cache"), "MISS");
  assert.equal(before.headers.get("content-type"), undefined, "not generated: type not known yet");
  assert.equal(before.headers.get("cache-control"), "no-store");
  assert.equal(before.headers.get("x-seed"), "4");
  assert.equal((await statsFor(prompt)).prompt_runs, 0, "a HEAD does not pay for a run");

  const made = await api(`${BASE}${path}`);
  await made.arrayBuffer();
  assert.equal(made.headers.get("x-cache"), "MISS");
  assert.equal(before.headers.get("etag"), made.headers.get("etag"), "the ETag it will have");
  await storedAt(permalinkOf(made));
  const { head } = await assertHeadLikeGet(path);
  assert.equal(head.headers.get("x-cache"), "HIT");
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

test("HEAD where only POST is served is a 405 naming POST", async () => {
  const res = await raw("HEAD", `/client/v4/accounts/any/ai/run/${MODEL}`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
  assert.equal(res.rest.length, 0);
  const put = await api(`${BASE}/models`, { method: "PUT" });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "GET, HEAD");
});

// --- Vary: Origin -------------------------------------------------------------------------------

const varyOf = (res) =>
  (res.headers.get("vary") ?? "")
    .split(",")
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean)
    .sort();

test("with a CORS list, every response says Vary: Origin, merged into one value", async () => {
  const prompt = uniquePrompt("vary");
  const body = { prompt, ...small, seed: 5 };
  for (const origin of [undefined, ALLOWED, "https://elsewhere.example"]) {
    const headers = origin ? { origin } : {};
    const image = await generate(body, { headers });
    assert.equal(image.status, 200);
    assert.deepEqual(varyOf(image.res), ["accept", "origin"], `image, origin ${origin}`);
    assert.equal(image.res.headers.get("vary").split(",").length, 2, "no duplicates");
    await storedAt(permalinkOf(image.res));
    const permalink = await api(`${BASE}${permalinkOf(image.res)}`, { headers });
    await permalink.arrayBuffer();
    // Permalinks negotiate bytes or the envelope too.
    assert.deepEqual(varyOf(permalink), ["accept", "origin"], `permalink, origin ${origin}`);
    const held = await generate(body, { headers: { ...headers, "if-none-match": image.res.headers.get("etag") } });
    assert.equal(held.status, 304);
    assert.deepEqual(varyOf(held.res), ["accept", "origin"], `304, origin ${origin}`);
    for (const path of ["/models", "/nowhere"]) {
      const other = await api(`${BASE}${path}`, { headers });
      await other.arrayBuffer();
      assert.deepEqual(varyOf(other), ["origin"], `${path}, origin ${origin}`);
    }
  }
});

test("with CORS '*', answers do not depend on the origin: '*' always, no Vary: Origin", { skip: !LOCKED && "needs LOCKED_URL (tests/e2e/run.mjs)" }, async () => {
  for (const headers of [{}, { origin: "https://anywhere.example" }]) {
    const res = await api(`${LOCKED}/models`, { headers });
    await res.arrayBuffer();
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.ok(!varyOf(res).includes("origin"), varyOf(res).join());
  }
});

// --- If-None-Match: * ---------------------------------------------------------------------------

test("If-None-Match: * proceeds for an image that does not exist yet, and is 304 once it does", async () => {
  const prompt = uniquePrompt("inm star");
  const body = { prompt, ...small, seed: 6 };
  const fresh = await generate(body, { headers: { "if-none-match": "*" } });
  assert.equal(fresh.status, 200, "RFC 9110 13.1.2: no current representation, so proceed");
  assert.equal(fresh.res.headers.get("x-cache"), "MISS");
  assert.ok(fresh.bytes.length > 0);
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
  await storedAt(permalinkOf(fresh.res));

  const exists = await generate(body, { headers: { "if-none-match": "*" } });
  assert.equal(exists.status, 304);
  assert.equal(exists.bytes.length, 0);
  const permalink = await api(`${BASE}${permalinkOf(fresh.res)}`, { headers: { "if-none-match": "*" } });
  assert.equal(permalink.status, 304);
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

// --- permalinks ---------------------------------------------------------------------------------

test("a permalink computed from the inputs alone is a 404; the one the answer gave is a 200", async () => {
  const prompt = uniquePrompt("guessable");
  // The cache key from the inputs alone, by the encoding the README documents.
  const text = [
    "sdxl-gateway cache key v2",
    `model:${MODEL}`,
    `prompt:str:${JSON.stringify(prompt)}`,
    "height:int:1024",
    "width:int:1024",
    "num_steps:int:20",
    "strength:num:1",
    "guidance:num:7.5",
    "seed:int:42",
    "",
  ].join("\n");
  const guessed = createHash("sha256").update(text).digest("hex");

  const answered = await generate({ prompt, seed: 42 });
  assert.equal(answered.status, 200);
  assert.equal(keyOf(answered.res), guessed, "the ETag is the cache key, as before");
  const link = permalinkOf(answered.res);
  assert.match(link, PERMALINK);
  const stored = await storedAt(link);
  assert.ok(Buffer.from(await (await api(`${BASE}${link}`)).arrayBuffer()).equals(answered.bytes));
  assert.equal(stored.headers.get("etag"), `"${guessed}"`);

  for (const attempt of [
    guessed,
    `${guessed}-${guessed.slice(0, 32)}`,
    `${guessed}-${guessed.slice(32)}`,
    `${guessed}-${"0".repeat(32)}`,
    `${guessed}-${createHash("sha256").update(guessed).digest("hex").slice(0, 32)}`,
    // The real tag, one digit off.
    link.slice("/images/".length, -1) + (link.endsWith("0") ? "1" : "0"),
  ]) {
    const res = await api(`${BASE}/images/${attempt}`);
    assert.equal(res.status, 404, attempt);
    assert.equal((await res.json()).errors[0].code, 7000);
  }
});

test("a permalink with Accept: application/json answers the envelope of the same image", async () => {
  const answered = await generate({ prompt: uniquePrompt("permalink json"), ...small, seed: 6 });
  assert.equal(answered.status, 200);
  const link = permalinkOf(answered.res);
  await storedAt(link);
  const res = await api(`${BASE}${link}`, { headers: { accept: "application/json" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("vary"), "accept, origin");
  assert.equal(res.headers.get("etag"), `"${keyOf(answered.res)}.json"`);
  const { success, result } = await res.json();
  assert.equal(success, true);
  assert.ok(Buffer.from(result.image, "base64").equals(answered.bytes));
  assert.equal(result.content_type, answered.res.headers.get("content-type"));
  assert.equal(String(result.seed), answered.res.headers.get("x-seed"));
  const bytes = await api(`${BASE}${link}`);
  assert.equal(bytes.headers.get("etag"), `"${keyOf(answered.res)}"`);
  await bytes.arrayBuffer();
});

test("a preflight says Vary: origin once", async () => {
  const res = await fetch(`${BASE}/`, {
    method: "OPTIONS",
    headers: { origin: ALLOWED, "access-control-request-method": "POST" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("vary"), "origin");
  assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
});
