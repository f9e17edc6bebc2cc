// A Wasm trap does not take the isolate down: the request that trapped fails, the next ones are
// served correctly (worker-build's glue re-instantiates the Wasm; the entry module forgets its
// replays, whose memory tier went with the old instance). `POST /__admin/trap` traps only where
// LOCAL_TRAP is set ([env.local] in wrangler.toml). tests/e2e/run.mjs runs this file against an
// instance of its own (TRAP_URL), so the trap cannot disturb the other files' requests.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BASE as OPEN, someIp, uniquePrompt } from "./helpers.mjs";

const BASE = process.env.TRAP_URL ?? OPEN;
const small = { width: 256, height: 256 };

async function send(ip, body) {
  const res = await fetch(`${BASE}/`, {
    method: "POST",
    headers: { "cf-connecting-ip": ip, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

const served = async (ip) =>
  (await (await fetch(`${BASE}/__admin/replays?caller=ip:${ip}`)).json()).served;

async function trap() {
  // The trapped request never answers on its own: the runtime cancels it with a 500.
  const res = await fetch(`${BASE}/__admin/trap`, { method: "POST" });
  await res.arrayBuffer();
  return res.status;
}

test("after a trap the isolate serves every kind of request correctly", async () => {
  const ip = someIp();
  const body = { prompt: uniquePrompt("before the trap"), ...small, seed: 31 };
  const first = await send(ip, body);
  assert.equal(first.res.status, 200);
  await send(ip, body);
  await send(ip, body);
  assert.equal(await served(ip), 1, "a replay was remembered before the trap");

  assert.equal(await trap(), 500);

  const models = await fetch(`${BASE}/models`);
  assert.equal(models.status, 200);
  assert.ok(Array.isArray((await models.json()).result ?? []));
  const fresh = await send(someIp(), { prompt: uniquePrompt("after the trap"), ...small, seed: 32 });
  assert.equal(fresh.res.status, 200);
  assert.equal(fresh.res.headers.get("content-type"), "image/png");
  assert.equal(fresh.res.headers.get("x-cache"), "MISS");

  // The replay is forgotten with the memory tier: the Wasm answers, from a tier it still has.
  const again = await send(ip, body);
  assert.equal(await served(ip), 1, "not replayed after the trap");
  assert.equal(again.res.status, 200);
  assert.ok(again.bytes.equals(first.bytes));
  assert.equal(again.res.headers.get("x-cache"), "HIT");
  assert.notEqual(again.res.headers.get("x-cache-tier"), "memory");

  // A refusal is answered as ever, and a second trap is survived too.
  const refused = await send(someIp(), { prompt: "" });
  assert.equal(refused.res.status, 400);
  assert.equal(await trap(), 500);
  const afterSecond = await send(someIp(), { prompt: uniquePrompt("after two"), ...small, seed: 33 });
  assert.equal(afterSecond.res.status, 200);
});

test("without LOCAL_TRAP the trap route is a 404", { skip: !process.env.LOCKED_URL }, async () => {
  // The locked instance runs the same local config with LOCAL_TRAP turned off.
  const res = await fetch(`${process.env.LOCKED_URL}/__admin/trap`, { method: "POST" });
  assert.equal(res.status, 404);
});
