// A job's lifetime. No job stays running for ever: its Durable Object's alarm fails it at its
// deadline (`JOB_DEADLINE_S` after its creation), whatever became of its messages. Nothing is
// kept for ever: a job's stored input is deleted when it ends, and the job itself
// `JOB_RETENTION_S` later. Against the instance tests/e2e/run.mjs starts with `JOB_DEADLINE_S:3`
// and `JOB_RETENTION_S:4`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MODEL, arm, fetchAs, noisePngBase64, someIp, uniquePrompt } from "./helpers.mjs";

const BASE = process.env.DEADLINE_URL;
const ip = someIp();

test("a job whose images never come is failed at its deadline, with the reason", { skip: !BASE }, async () => {
  const prompt = uniquePrompt("job deadline");
  // Every run of this prompt hangs for 20 s, so each delivery outlasts AI_TIMEOUT_MS (5 s) and is
  // retried later: the job would run for minutes.
  await arm(prompt, "timeout", { times: 0, delay_ms: 20_000 }, BASE);
  const created = await fetchAs(ip, "/v1/predictions", {
    method: "POST",
    base: BASE,
    body: { version: MODEL, input: { prompt, width: 256, height: 256 } },
  });
  const job = await created.json();
  assert.equal(created.status, 201, JSON.stringify(job));
  const started = Date.now();
  let seen = job;
  while (!["succeeded", "failed", "canceled"].includes(seen.status) && Date.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 250));
    seen = await (await fetchAs(ip, `/v1/predictions/${job.id}`, { base: BASE })).json();
  }
  assert.equal(seen.status, "failed", JSON.stringify(seen));
  assert.match(seen.error, /did not end within 3 s/);
  assert.ok(Date.now() - started >= 2_000, "not before its deadline");
});

test("a finished job's stored input is deleted, and the job answers 404 after its retention", { skip: !BASE }, async () => {
  // Noise does not compress: ~240 KiB of base64, over what the job's messages carry, so the
  // input goes to R2 as the job's own object.
  const image = noisePngBase64();
  const created = await fetchAs(ip, "/v1/predictions", {
    method: "POST",
    base: BASE,
    body: {
      version: "@cf/runwayml/stable-diffusion-v1-5-img2img",
      input: { prompt: uniquePrompt("job lifetime"), image_b64: image, strength: 0.5 },
    },
  });
  const job = await created.json();
  assert.equal(created.status, 201, JSON.stringify(job));
  const stored = async () => (await (await fetch(`${BASE}/__admin/r2/job-inputs/${job.id}`)).json()).exists;
  let seen = job;
  for (let i = 0; i < 100 && !["succeeded", "failed", "canceled"].includes(seen.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await (await fetchAs(ip, `/v1/predictions/${job.id}`, { base: BASE })).json();
  }
  // Made within the 3 s deadline, or failed by it on a slow machine: ended either way.
  assert.ok(["succeeded", "failed"].includes(seen.status), JSON.stringify(seen));
  const endedAt = Date.now();
  // Deleted by the object as the job ends, just after it says so.
  let kept = true;
  for (let i = 0; i < 20 && kept; i++) {
    kept = await stored();
    if (kept) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(kept, false, "the input is deleted once the job ended");
  // Still there within its retention (4 s)...
  assert.equal((await fetchAs(ip, `/v1/predictions/${job.id}`, { base: BASE })).status, 200);
  // ...and gone after it: the object deleted its row.
  let status = 200;
  while (status === 200 && Date.now() - endedAt < 15_000) {
    await new Promise((r) => setTimeout(r, 500));
    status = (await fetchAs(ip, `/v1/predictions/${job.id}`, { base: BASE })).status;
  }
  assert.equal(status, 404, "an expired job is no longer there");
  assert.ok(Date.now() - endedAt >= 3_000, "not before its retention");
  // Its image stays: the cache, not the job, keeps it.
  if (seen.status === "succeeded") assert.equal((await fetch(seen.output[0])).status, 200);
});

test("a job's input is stored while it runs", { skip: !BASE }, async () => {
  const prompt = uniquePrompt("job input kept");
  // Slow enough to look while it runs.
  await arm(prompt, "slow", { times: 0, delay_ms: 2_000 }, BASE);
  const created = await fetchAs(ip, "/v1/predictions", {
    method: "POST",
    base: BASE,
    body: {
      version: "@cf/runwayml/stable-diffusion-v1-5-img2img",
      input: { prompt, image_b64: noisePngBase64(), strength: 0.5 },
    },
  });
  const job = await created.json();
  assert.equal(created.status, 201, JSON.stringify(job));
  const r = await (await fetch(`${BASE}/__admin/r2/job-inputs/${job.id}`)).json();
  assert.equal(r.exists, true, "stored under the job's own key");
});

test("a caller's queued images are capped: 429 in Replicate's shape with Retry-After, room again once a job ends", { skip: !BASE }, async () => {
  const caller = someIp(); // a queue of its own
  const prompt = uniquePrompt("job queue cap");
  await arm(prompt, "slow", { times: 0, delay_ms: 1_500 }, BASE);
  const create = (n) =>
    fetchAs(caller, "/v1/predictions", {
      method: "POST",
      base: BASE,
      body: { version: MODEL, input: { prompt, n, width: 256, height: 256 } },
    });
  const first = await create(3);
  const job = await first.json();
  assert.equal(first.status, 201, JSON.stringify(job));
  // 3 queued + 2 > 4.
  const refused = await create(2);
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "10");
  const body = await refused.json();
  assert.equal(body.status, 429, JSON.stringify(body));
  assert.match(body.detail, /3 images of this caller are queued and this job adds 2; at most 4/);
  // One more still fits.
  const fits = await create(1);
  assert.equal(fits.status, 201, await fits.text());
  // Once the first job ended its images are no longer queued.
  let seen = job;
  for (let i = 0; i < 100 && !["succeeded", "failed", "canceled"].includes(seen.status); i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await (await fetchAs(caller, `/v1/predictions/${job.id}`, { base: BASE })).json();
  }
  assert.equal(seen.status, "succeeded", JSON.stringify(seen));
  const again = await create(2);
  assert.equal(again.status, 201, await again.text());
});
