// The official `replicate` npm client with its base URL pointed at the gateway (docs/jobs.md):
// predictions.create, wait, and run by model name, then the output URLs fetched.
import assert from "node:assert/strict";
import { test } from "node:test";
import Replicate from "replicate";
import { BASE, MODEL, decodePng, someIp, statsFor, tokenFor, uniquePrompt } from "./helpers.mjs";

const ip = someIp();
const replicate = new Replicate({
  // Any where the gateway takes anyone; in the rehearsal (production settings) a token.
  auth: tokenFor(ip, "unused-locally"),
  baseUrl: `${BASE}/v1`,
  // A client address of its own, as every end-to-end test has (the local rate limit is per
  // address).
  fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...init.headers, "cf-connecting-ip": ip } }),
});
const small = { width: 256, height: 256 };

async function fetchPng(output) {
  // The client wraps https: URLs as FileOutput; local runs serve http:, which stay strings.
  const url = typeof output === "string" ? output : output.url().toString();
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return decodePng(Buffer.from(await res.arrayBuffer()));
}

test("replicate: predictions.create then wait", async () => {
  const prompt = uniquePrompt("replicate create");
  const created = await replicate.predictions.create({ version: MODEL, input: { prompt, ...small, n: 2 } });
  assert.match(created.id, /^[0-9a-f]{64}$/);
  const done = await replicate.wait(created, { interval: 200 });
  assert.equal(done.status, "succeeded");
  assert.equal(done.output.length, 2);
  for (const url of done.output) {
    const png = await fetchPng(url);
    assert.deepEqual([png.width, png.height], [256, 256]);
  }
  assert.equal((await statsFor(prompt)).prompt_runs, 2);
  const again = await replicate.predictions.get(created.id);
  assert.deepEqual(again.output, done.output);
});

test("replicate: run by model name", async () => {
  const prompt = uniquePrompt("replicate run");
  const output = await replicate.run("bytedance/stable-diffusion-xl-lightning", { input: { prompt, ...small } });
  assert.equal(output.length, 1);
  const png = await fetchPng(output[0]);
  assert.deepEqual([png.width, png.height], [256, 256]);
});

test("replicate: a refused input raises the client's error with the field", async () => {
  await assert.rejects(
    replicate.predictions.create({ version: MODEL, input: { prompt: "a", num_steps: 99 } }),
    (e) => e.response?.status === 400 && /\/input\/num_steps/.test(e.message),
  );
});

test("replicate: cancel", async () => {
  const prompt = uniquePrompt("replicate cancel");
  const created = await replicate.predictions.create({ version: MODEL, input: { prompt, ...small } });
  const canceled = await replicate.predictions.cancel(created.id);
  assert.equal(canceled.status, "canceled");
  assert.equal((await replicate.predictions.get(created.id)).status, "canceled");
});
