// Memory inside one isolate: max-size requests against the isolate's budget, read through the
// local admin route (`GET /__admin/memory`: the Wasm memory's size and the budget).
import assert from "node:assert/strict";
import { test } from "node:test";
import { maxSizeImage } from "../../bench/memory.mjs";
import { BASE, api } from "./helpers.mjs";

const MIB = 1024 * 1024;
const admin = async () => (await fetch(`${BASE}/__admin/memory`)).json();

test("8 concurrent max-size requests: each 200 or the budget's 503, Wasm memory bounded", async () => {
  const start = await admin();
  const image = maxSizeImage(start.max_body_bytes);
  assert.ok(image.bodyBytes > start.max_body_bytes * 0.95, "the body is near the limit");
  const body = (seed) =>
    JSON.stringify({ prompt: "memory e2e", seed, strength: 0.5, image: Array.from(image.png) });
  const send = async (seed) => {
    const res = await api(`${BASE}/`, {
      method: "POST",
      headers: { "content-type": "application/json", "cache-control": "no-store" },
      body: body(seed),
    });
    const text = Buffer.from(await res.arrayBuffer());
    return { status: res.status, retryAfter: res.headers.get("retry-after"), text };
  };
  // One first, so that what the isolate keeps for good (its first max-size request's working
  // set) is in the starting figure.
  const seed = Date.now() % 1_000_000;
  assert.equal((await send(seed)).status, 200);
  const before = await admin();

  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(seed + 1 + i)));
  for (const a of answers) {
    assert.ok([200, 503].includes(a.status), `status ${a.status}: ${a.text.subarray(0, 200)}`);
    if (a.status === 503) {
      assert.equal(a.retryAfter, "1");
      assert.equal(JSON.parse(a.text).errors[0].code, 3047);
    }
  }
  assert.ok(answers.some((a) => a.status === 200), "the budget admits at least one");
  const after = await admin();
  assert.equal(after.budget.held_bytes, 0, "every hold was given back");
  // The bound: the budget admits at most floor(limit / hold of one request's reading) requests at
  // once (2 with the defaults), each holding its image (1.1 x decoded, with the parser's 1 MiB)
  // in Wasm memory; the isolate's allocator may keep one more such set from earlier requests.
  const atOnce = Math.floor(after.budget.limit_bytes / (image.bodyBytes * 1.75 + MIB));
  const bound = (atOnce + 1) * (1.1 * image.png.length + MIB);
  const growth = after.wasm_memory_bytes - before.wasm_memory_bytes;
  assert.ok(growth <= bound, `Wasm memory grew ${(growth / MIB).toFixed(1)} MiB; bound ${(bound / MIB).toFixed(1)} MiB`);
  assert.ok(after.budget.peak_bytes <= after.budget.limit_bytes);
});

test("the server still serves after the budget refused requests", async () => {
  const res = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "after the burst", seed: 3 }),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
});
