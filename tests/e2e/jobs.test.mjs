// Asynchronous jobs (docs/jobs.md): Replicate's prediction routes over a Durable Object per job
// and a Queue, against `npm start`'s setup (the stand-in as Workers AI).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LOCKED,
  MODEL,
  REHEARSAL,
  arm,
  decodePng,
  generate,
  noisePngBase64,
  statsFor,
  uniquePrompt,
} from "./helpers.mjs";
import {
  LOCAL_WEBHOOK_SECRET,
  call,
  create,
  pause,
  settle,
  small,
  verifies,
  webhookSink,
} from "./jobs-helpers.mjs";

async function fetchImage(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.equal(res.headers.get("content-type"), "image/png");
  return decodePng(Buffer.from(await res.arrayBuffer()));
}

test("submit, poll, succeeded: the output URLs fetch the images", async () => {
  const prompt = uniquePrompt("job basic");
  const r = await create({ version: MODEL, input: { prompt, ...small, seed: 5 } });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.id, /^[0-9a-f]{64}$/);
  assert.ok(["starting", "processing"].includes(r.json.status), r.json.status);
  assert.equal(r.json.output, null);
  assert.equal(r.json.model, "bytedance/stable-diffusion-xl-lightning");
  assert.equal(r.json.input.prompt, prompt);
  assert.ok(r.json.urls.get.endsWith(`/v1/predictions/${r.json.id}`));
  const done = await settle(r.json.id);
  assert.equal(done.status, "succeeded", done.error);
  assert.equal(done.output.length, 1);
  assert.match(done.output[0], /\/images\/[0-9a-f]{64}-[0-9a-f]{32}$/);
  const image = await fetchImage(done.output[0]);
  assert.deepEqual([image.width, image.height], [256, 256]);
  assert.ok(Date.parse(done.completed_at) >= Date.parse(done.created_at));
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

test("n variations are made with seeds seed + i, each its own image", async () => {
  const prompt = uniquePrompt("job variations");
  const r = await create({ version: MODEL, input: { prompt, ...small, seed: 40, n: 3 } });
  assert.equal(r.status, 201, r.text);
  const done = await settle(r.json.id);
  assert.equal(done.status, "succeeded", done.error);
  assert.equal(done.output.length, 3);
  assert.equal(new Set(done.output).size, 3);
  // Image i is the image of seed 40 + i made synchronously.
  for (const [i, url] of done.output.entries()) {
    const sync = await generate({ prompt, ...small, seed: 40 + i });
    assert.equal(sync.status, 200);
    assert.equal(sync.res.headers.get("x-cache"), "HIT", `seed ${40 + i} was made by the job`);
    assert.ok(url.endsWith(sync.res.headers.get("content-location")), `${url} is seed ${40 + i}`);
  }
  assert.equal((await statsFor(prompt)).prompt_runs, 3);
});

test("Prefer: wait holds the answer until the job ends", async () => {
  const prompt = uniquePrompt("job wait");
  const r = await create({ version: MODEL, input: { prompt, ...small } }, { headers: { prefer: "wait=30" } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "succeeded");
  assert.equal(r.json.output.length, 1);
});

test("Prefer: wait answers starting when the wait runs out (the clients poll after starting only)", async () => {
  const prompt = uniquePrompt("job wait out");
  await arm(prompt, "slow", { delay_ms: 4000 });
  const r = await create({ version: MODEL, input: { prompt, ...small } }, { headers: { prefer: "wait=2" } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "starting");
  const polled = await call(`/v1/predictions/${r.json.id}`);
  assert.equal(polled.json.status, "processing");
  const done = await settle(r.json.id);
  assert.equal(done.status, "succeeded", done.error);
});

test("a bad input is a 400 at once, naming the field under input; nothing is queued", async () => {
  const prompt = uniquePrompt("job bad input");
  const r = await create({ version: MODEL, input: { prompt, num_steps: 99, n: 2 } });
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.json.errors.map((e) => e.path), ["/input/num_steps"]);
  assert.match(r.json.errors[0].message, /^'\/input\/num_steps' must be <= 20/);
  // Replicate's clients read only its problem fields (its Python client: title, detail, status).
  assert.equal(r.json.status, 400);
  assert.equal(r.json.title, "Invalid input");
  assert.match(r.json.detail, /\/input\/num_steps/);
  // The jobs Worker answered; the gateway passed its request id on (docs/jobs.md): one id.
  assert.equal(r.json.request_id, r.headers.get("x-request-id"));
  const noModel = await create({ version: "acme/nothing", input: { prompt } });
  assert.ok([400, 404].includes(noModel.status), noModel.text);
  const nAbove = await create({ version: MODEL, input: { prompt, n: 9 } });
  assert.equal(nAbove.status, 400);
  assert.match(nAbove.text, /\/input\/n/);
  await pause(1500);
  assert.equal((await statsFor(prompt)).prompt_runs, 0);
});

test("the model can be named in the path, as Replicate's clients do", async () => {
  const prompt = uniquePrompt("job by name");
  const r = await call("/v1/models/bytedance/stable-diffusion-xl-lightning/predictions", {
    method: "POST",
    body: { input: { prompt, ...small } },
    headers: { prefer: "wait" },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "succeeded");
  for (const path of ["/v1/models/acme/nothing/predictions", "/v1/models/a/b/c/predictions"]) {
    const unknown = await call(path, { method: "POST", body: { input: { prompt } } });
    assert.equal(unknown.status, 404, unknown.text);
    assert.ok(unknown.json.errors[0].message.includes(path), unknown.text);
  }
});

/** Cancels job `id`, then checks it is still canceled, with no output, `ms` later. */
async function cancelAndStayCanceled(id, ms) {
  const canceled = await call(`/v1/predictions/${id}/cancel`, { method: "POST" });
  assert.equal(canceled.status, 200, canceled.text);
  assert.equal(canceled.json.status, "canceled");
  await pause(ms);
  const later = await call(`/v1/predictions/${id}`);
  assert.equal(later.json.status, "canceled");
  assert.equal(later.json.output, null);
}

test("cancel before the run: the job ends canceled and no image is made", async () => {
  const prompt = uniquePrompt("job cancel before");
  const r = await create({ version: MODEL, input: { prompt, ...small } });
  await cancelAndStayCanceled(r.json.id, 3000);
  assert.equal((await statsFor(prompt)).prompt_runs, 0);
});

test("cancel during the run: the job stays canceled when the run finishes", async () => {
  const prompt = uniquePrompt("job cancel during");
  await arm(prompt, "slow", { delay_ms: 2500 });
  const r = await create({ version: MODEL, input: { prompt, ...small } });
  let status = r.json.status;
  for (let i = 0; i < 100 && status !== "processing"; i++) {
    await pause(100);
    status = (await call(`/v1/predictions/${r.json.id}`)).json.status;
  }
  assert.equal(status, "processing");
  await cancelAndStayCanceled(r.json.id, 4000);
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

test("capacity errors (3040) are retried through the queue and the job succeeds", async () => {
  const prompt = uniquePrompt("job capacity");
  // Each delivery tries AI_RETRIES + 1 = 3 times; 4 failures outlast the first delivery.
  await arm(prompt, "capacity", { times: 4 });
  const r = await create({ version: MODEL, input: { prompt, ...small } });
  const done = await settle(r.json.id, { timeoutMs: 45_000 });
  assert.equal(done.status, "succeeded", done.error);
  assert.equal((await statsFor(prompt)).prompt_runs, 5);
  await fetchImage(done.output[0]);
});

test("a spent daily allocation (3036) fails the job at once, with the reason", async () => {
  const prompt = uniquePrompt("job allocation");
  await arm(prompt, "allocation");
  const r = await create({ version: MODEL, input: { prompt, ...small } });
  const done = await settle(r.json.id);
  assert.equal(done.status, "failed");
  assert.match(done.error, /^3036: /);
  assert.equal(done.output, null);
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

test("a cached request's job succeeds without a model run", async () => {
  const prompt = uniquePrompt("job cached");
  const sync = await generate({ prompt, ...small, seed: 9 });
  assert.equal(sync.status, 200);
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
  const r = await create({ version: MODEL, input: { prompt, ...small, seed: 9 } }, { headers: { prefer: "wait" } });
  assert.equal(r.json.status, "succeeded", r.json.error);
  assert.ok(r.json.output[0].endsWith(sync.res.headers.get("content-location")));
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

/** The tests' receivers are http://127.0.0.1: production takes https to a DNS name only. */
const localWebhooks = {
  skip: REHEARSAL && "production refuses http webhooks (rehearsal.test.mjs checks the refusal)",
};

test("the webhook gets exactly one signed completed delivery", localWebhooks, async () => {
  const sink = await webhookSink();
  try {
    const prompt = uniquePrompt("job webhook");
    const r = await create({
      version: MODEL,
      input: { prompt, ...small },
      webhook: sink.url,
      webhook_events_filter: ["completed"],
    });
    assert.equal(r.status, 201, r.text);
    await settle(r.json.id);
    for (let i = 0; i < 50 && sink.received.length === 0; i++) await pause(100);
    await pause(1500); // any second delivery would arrive now
    assert.equal(sink.received.length, 1);
    const [delivery] = sink.received;
    // Signed with the caller's own key, which the secret route gives it: not the master key.
    const secret = await call("/v1/webhooks/default/secret");
    assert.equal(secret.status, 200, secret.text);
    assert.match(secret.json.key, /^whsec_/);
    assert.ok(verifies(delivery, secret.json.key), "the signature verifies with the caller's secret");
    assert.ok(!verifies(delivery, LOCAL_WEBHOOK_SECRET), "the master key signs nothing itself");
    assert.ok(!verifies(delivery, "whsec_" + Buffer.from("another key of 24+ bytes!!").toString("base64")));
    const body = JSON.parse(delivery.body);
    assert.equal(body.id, r.json.id);
    assert.equal(body.status, "succeeded");
    assert.equal(body.output.length, 1);
    assert.equal(delivery.headers["webhook-id"], `msg_${r.json.id}_1_completed`);
  } finally {
    await sink.close();
  }
});

test("a webhook answered 500 is retried", localWebhooks, async () => {
  const sink = await webhookSink([500]);
  try {
    const prompt = uniquePrompt("job webhook retry");
    const r = await create({
      version: MODEL,
      input: { prompt, ...small },
      webhook: sink.url,
      webhook_events_filter: ["completed"],
    });
    await settle(r.json.id);
    for (let i = 0; i < 150 && sink.received.length < 2; i++) await pause(100);
    assert.equal(sink.received.length, 2);
    const { key } = (await call("/v1/webhooks/default/secret")).json;
    assert.ok(sink.received.every((d) => verifies(d, key)));
    assert.equal(sink.received[0].headers["webhook-id"], sink.received[1].headers["webhook-id"]);
  } finally {
    await sink.close();
  }
});

test("a webhook answered with a redirect is not followed: the attempt failed and is retried", localWebhooks, async () => {
  const elsewhere = await webhookSink();
  const sink = await webhookSink([{ status: 307, headers: { location: elsewhere.url } }]);
  try {
    const prompt = uniquePrompt("job webhook redirect");
    const r = await create({
      version: MODEL,
      input: { prompt, ...small },
      webhook: sink.url,
      webhook_events_filter: ["completed"],
    });
    await settle(r.json.id);
    // The retry comes 5 s after the redirect (the schedule's first delay).
    for (let i = 0; i < 150 && sink.received.length < 2; i++) await pause(100);
    assert.equal(sink.received.length, 2, "retried at its own URL");
    assert.equal(elsewhere.received.length, 0, "the redirect's target got nothing");
    assert.equal(sink.received[0].headers["webhook-id"], sink.received[1].headers["webhook-id"]);
  } finally {
    await sink.close();
    await elsewhere.close();
  }
});

test("start, output and completed messages as the filter asks, each its own signed message", localWebhooks, async () => {
  const sink = await webhookSink();
  try {
    const prompt = uniquePrompt("job webhook events");
    // Slow runs: the job is seen processing before it ends.
    await arm(prompt, "slow", { times: 0, delay_ms: 1_500 });
    const r = await create({
      version: MODEL,
      input: { prompt, ...small, n: 2 },
      webhook: sink.url,
      webhook_events_filter: ["start", "output", "completed"],
    });
    assert.equal(r.status, 201, r.text);
    const ended = await settle(r.json.id);
    assert.equal(ended.status, "succeeded", ended.error);
    for (let i = 0; i < 50 && !sink.received.some((d) => JSON.parse(d.body).status === "succeeded"); i++) {
      await pause(100);
    }
    await pause(1500); // any late message would arrive now
    const { key } = (await call("/v1/webhooks/default/secret")).json;
    assert.ok(sink.received.every((d) => verifies(d, key)), "every message is signed");
    const bodies = sink.received.map((d) => JSON.parse(d.body));
    const ids = sink.received.map((d) => d.headers["webhook-id"]);
    assert.equal(new Set(ids).size, ids.length, `one id per message: ${ids}`);
    assert.match(ids[0], new RegExp(`^msg_${r.json.id}_1_start$`), "the first is start");
    assert.equal(bodies[0].status, "processing");
    const last = bodies.at(-1);
    assert.equal(last.status, "succeeded", "the last is completed");
    assert.equal(last.output.length, 2);
    assert.match(ids.at(-1), /_completed$/);
    assert.equal(ids.filter((id) => id.endsWith("_completed")).length, 1);
    // Any output message lists the images made so far.
    for (const [i, body] of bodies.entries()) {
      if (ids[i].endsWith("_output")) assert.ok(body.output.length >= 1, JSON.stringify(body));
    }
  } finally {
    await sink.close();
  }
});

test("locked: only the token that made a job can read or cancel it", { skip: !LOCKED }, async () => {
  const prompt = uniquePrompt("job owner");
  const alpha = { authorization: "Bearer tok-alpha" };
  const beta = { authorization: "Bearer tok-beta" };
  const input = { prompt, ...small };
  assert.equal((await create({ version: MODEL, input }, { base: LOCKED })).status, 401);
  const r = await create({ version: MODEL, input }, { base: LOCKED, headers: alpha });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  assert.equal((await call(`/v1/predictions/${id}`, { base: LOCKED, headers: beta })).status, 404);
  assert.equal((await call(`/v1/predictions/${id}/cancel`, { method: "POST", base: LOCKED, headers: beta })).status, 404);
  assert.equal((await call(`/v1/predictions/${id}`, { base: LOCKED })).status, 401);
  const mine = await settle(id, { base: LOCKED, headers: alpha });
  assert.notEqual(mine.status, "canceled");
});

test("a large img2img input travels by R2 (the message carries its key) and the job succeeds", async () => {
  // Noise does not compress: a 320x256 PNG of it is ~240 KiB, over the 96 KiB a message carries.
  const image = noisePngBase64();
  assert.ok(image.length > 96 * 1024, `${image.length} bytes of base64`);
  const prompt = uniquePrompt("job img2img");
  const r = await create(
    { version: "@cf/runwayml/stable-diffusion-v1-5-img2img", input: { prompt, image_b64: image, strength: 0.5 } },
    { headers: { prefer: "wait=30" } },
  );
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "succeeded", r.json.error);
  assert.match(r.json.input.image_b64, /\(\d+ characters\)$/, "the input image is not echoed whole");
  const out = await fetchImage(r.json.output[0]);
  assert.deepEqual([out.width, out.height], [320, 256], "sized by its input image");
});

test("an unknown or malformed prediction id is a 404", async () => {
  assert.equal((await call(`/v1/predictions/${"0".repeat(64)}`)).status, 404);
  assert.equal((await call("/v1/predictions/not-an-id")).status, 404);
});


test("locked: each token has its own webhook signing secret", { skip: !LOCKED }, async () => {
  const secretOf = async (token) =>
    call("/v1/webhooks/default/secret", { base: LOCKED, headers: { authorization: `Bearer ${token}` } });
  const [alpha, again, beta] = [await secretOf("tok-alpha"), await secretOf("tok-alpha"), await secretOf("tok-beta")];
  for (const r of [alpha, again, beta]) assert.equal(r.status, 200, r.text);
  assert.equal(alpha.json.key, again.json.key, "stable");
  assert.notEqual(alpha.json.key, beta.json.key, "a receiver of one customer cannot verify, nor forge, another's");
  assert.notEqual(alpha.json.key, LOCAL_WEBHOOK_SECRET);
  const anonymous = await call("/v1/webhooks/default/secret", { base: LOCKED });
  assert.equal(anonymous.status, 401);
});
