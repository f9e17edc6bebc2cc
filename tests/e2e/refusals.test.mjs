// Every refusal: its status, and the v4 envelope naming what was wrong.
import assert from "node:assert/strict";
import { test } from "node:test";
import { api, BASE, MODEL, arm, generate, json, uniquePrompt } from "./helpers.mjs";

/** `rest`: the REST drop-in's refusals carry `"result": {}`, as Workers AI's do; others `null`. */
function assertEnvelope(body, { rest = false } = {}) {
  assert.equal(body.success, false);
  assert.deepEqual(body.messages, []);
  if (rest) assert.deepEqual(body.result, {});
  else assert.equal(body.result, null);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0);
  for (const e of body.errors) {
    assert.equal(typeof e.code, "number");
    assert.equal(typeof e.message, "string");
    assert.ok(!/\bat .*\.(js|rs):\d+/.test(e.message), "no stack traces");
  }
}

test("a request breaking the contract gets 400 listing every violation", async () => {
  const { status, res, bytes } = await generate({
    prompt: "",
    num_steps: 25,
    width: 100,
    strength: 2,
    seed: 1.5,
    image: [1, 2, 300],
  });
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assertEnvelope(body);
  assert.deepEqual(
    body.errors.map((e) => [e.code, e.path, e.rule]),
    [
      [5006, "/prompt", "min_length"],
      [5006, "/width", "minimum"],
      [5006, "/image/2", "maximum"],
      [5006, "/num_steps", "maximum"],
      [5006, "/strength", "maximum"],
      [5006, "/seed", "integer"],
    ],
  );
  const steps = body.errors.find((e) => e.path === "/num_steps");
  assert.equal(steps.limit, 20);
  assert.equal(steps.message, "'/num_steps' must be <= 20");
});

const FLUX_PATH = "/ai/run/@cf/black-forest-labs/flux-1-schnell";

/** `{prompt, extra_0: 1, …}` with `n` unknown fields. */
function withUnknownFields(n, prompt = "a") {
  const body = { prompt };
  for (let i = 0; i < n; i++) body[`extra_${i}`] = 1;
  return body;
}

test("5,000 unknown fields on FLUX answer one bounded refusal, not 5,000 errors", async () => {
  const { status, res, bytes } = await generate(withUnknownFields(5000), { path: FLUX_PATH });
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assertEnvelope(body);
  assert.ok(body.errors.length <= 51, `${body.errors.length} errors`);
  assert.ok(bytes.length < 4096, `${bytes.length} bytes`);
  assert.deepEqual([body.errors[0].code, body.errors[0].rule, body.errors[0].limit], [5020, "too_many_unknown_fields", 100]);
});

test("FLUX at the cap of unknown fields lists 50 errors, then one counting the rest", async () => {
  const { status, res, bytes } = await generate(withUnknownFields(100), { path: FLUX_PATH });
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assertEnvelope(body);
  assert.equal(body.errors.length, 51);
  assert.ok(body.errors.slice(0, 50).every((e) => e.code === 5006 && e.rule === "unknown_field"));
  const last = body.errors[50];
  assert.deepEqual([last.code, last.rule, last.message], [5021, "more_violations", "... and 50 more violations"]);
});

test("a 100 KB field name comes back cut to its first 64 bytes", async () => {
  const name = "n".repeat(100 * 1024);
  const { status, res, bytes } = await generate({ prompt: "a", [name]: 1 }, { path: FLUX_PATH });
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assert.equal(body.errors[0].path, `/${"n".repeat(64)}…`);
  assert.ok(bytes.length < 1024, `${bytes.length} bytes`);
});

test("more than 100 distinct unknown fields on the SDXL route is a 400 with 5020", async () => {
  const { status, res, bytes } = await generate(withUnknownFields(101));
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assertEnvelope(body);
  assert.deepEqual(
    body.errors.map((e) => [e.code, e.path, e.rule]),
    [[5020, "", "too_many_unknown_fields"]],
  );
  assert.match(body.errors[0].message, /more than 100 distinct fields/);
});

test("100 unknown fields on the SDXL route are accepted and named in a bounded header", async () => {
  const { status, res } = await generate(withUnknownFields(100, uniquePrompt("at the cap")));
  assert.equal(status, 200);
  assert.match(res.headers.get("x-ignored-fields"), /^extra_0, extra_1, .*extra_19, \(\+80 more\)$/);
});

test("image and image_b64 together are refused", async () => {
  const { status, res, bytes } = await generate({ prompt: "a", image: [1], image_b64: "aGk=" });
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assert.ok(body.errors.some((e) => e.path === "/image_b64" && e.rule === "exclusive"));
});

test("malformed JSON is a 400 in the envelope", async () => {
  const { status, res, bytes } = await generate('{"prompt": "a",');
  assert.equal(status, 400);
  const body = await json(res, bytes);
  assertEnvelope(body);
  assert.equal(body.errors[0].code, 3003);
  assert.match(body.errors[0].message, /not valid JSON/);
});

test("a body that is not an object is a 400", async () => {
  const { status, res, bytes } = await generate("[1,2,3]");
  assert.equal(status, 400);
  assert.match((await json(res, bytes)).errors[0].message, /must be a JSON object, not an array/);
});

test("an empty body is a 400", async () => {
  const { status } = await generate("");
  assert.equal(status, 400);
});

test("a wrong content type is a 415", async () => {
  const { status, res, bytes } = await generate("prompt=a", { headers: { "content-type": "text/plain" } });
  assert.equal(status, 415);
  const body = await json(res, bytes);
  assertEnvelope(body);
  // Every body the routes take is named, url-encoded forms too.
  assert.match(body.errors[0].message, /application\/json, multipart\/form-data or application\/x-www-form-urlencoded/);
});

test("an over-limit body is a 413", async () => {
  const big = Buffer.alloc(17 * 1024 * 1024, 0x20); // 17 MiB of spaces: over the 16 MiB default
  const res = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: big,
  });
  assert.equal(res.status, 413);
  const body = await res.json();
  assertEnvelope(body);
  assert.equal(body.errors[0].code, 3006);
});

test("an unknown path is a 404; an unknown model is Workers AI's 400 with 5007", async () => {
  for (const path of ["/nope", "/client/v4/accounts/a/b/ai/run/x"]) {
    const res = await api(`${BASE}${path}`, { method: "POST", body: "{}" });
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assertEnvelope(body);
    assert.equal(body.errors[0].code, 7000);
  }
  for (const path of ["/ai/run/@cf/not/a-model", "/client/v4/accounts/a/ai/run/@cf%2Fnot%2Fa-model"]) {
    const res = await api(`${BASE}${path}`, { method: "POST", body: '{"prompt":"x"}' });
    assert.equal(res.status, 400, path);
    const body = await res.json();
    assertEnvelope(body, { rest: path.startsWith("/client/") });
    assert.deepEqual([body.errors[0].code, body.errors[0].message], [5007, "No such model @cf/not/a-model or task (the models served: GET /models)"]);
  }
});

test("a wrong method is a 405 naming the allowed one", async () => {
  for (const method of ["PUT", "DELETE", "PATCH"]) {
    const res = await api(`${BASE}/ai/run/${MODEL}`, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "GET, HEAD, POST");
    assertEnvelope(await res.json());
  }
});

// The model failing in each documented way, via the stand-in's armed faults. Capacity is armed
// for 3 runs: the first try and both retries (AI_RETRIES=2 locally).
const faults = [
  ["capacity", 503, 3040, 3],
  ["bad_input", 400, 5006, 1],
  ["not_image", 502, 3043, 1],
];
for (const [behaviour, status, code, times] of faults) {
  test(`upstream ${behaviour} becomes ${status}`, async () => {
    const prompt = uniquePrompt(`fault ${behaviour}`);
    await arm(prompt, behaviour, { times });
    const r = await generate({ prompt, width: 256, height: 256, seed: 1 });
    assert.equal(r.status, status);
    const body = await json(r.res, r.bytes);
    assertEnvelope(body);
    assert.equal(body.errors[0].code, code);
    // Armed for that many runs only: the same request now succeeds.
    const again = await generate({ prompt, width: 256, height: 256, seed: 1 });
    assert.equal(again.status, 200);
  });
}

test("an upstream timeout becomes 504", async () => {
  const prompt = uniquePrompt("fault timeout");
  await arm(prompt, "timeout", { delay_ms: 200 });
  const r = await generate({ prompt, width: 256, height: 256, seed: 1 });
  assert.equal(r.status, 504);
  assert.equal((await json(r.res, r.bytes)).errors[0].code, 3007);
});

for (const [behaviour, reason] of [
  ["cut_short", /did not arrive whole: .*disconnected/],
  ["truncated", /did not arrive whole: the image\/png stream ended after \d+ bytes/],
]) {
  test(`an upstream stream ${behaviour} is a 502, never a smaller "whole" image`, async () => {
    const prompt = uniquePrompt(`fault ${behaviour}`);
    await arm(prompt, behaviour);
    const r = await generate({ prompt, width: 512, height: 512, seed: 1 });
    assert.equal(r.status, 502);
    const body = await json(r.res, r.bytes);
    assertEnvelope(body);
    assert.equal(body.errors[0].code, 3043);
    assert.match(body.errors[0].message, reason);
  });
}
