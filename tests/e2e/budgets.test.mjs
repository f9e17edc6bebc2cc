// Budgets per caller (QUOTAS, docs/operating.md#budgets): a run is charged before it starts, in
// the caller's own Durable Object, so concurrent runs cannot overspend; cache hits and failed runs
// cost nothing; a spent budget is a 429 each door's clients take as final; GET /usage tells a
// caller what it spent. Against the instance tests/e2e/run.mjs starts with budgets for the
// client addresses below (anonymous callers are named by address).
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import Replicate from "replicate";
import { MODEL, arm, fetchAs, statsFor, uniquePrompt } from "./helpers.mjs";

const BASE = process.env.DEADLINE_URL;
const skip = !BASE;
const small = { width: 256, height: 256, num_steps: 1 };

const post = (ip, body, path = "/") =>
  fetchAs(ip, path, { method: "POST", base: BASE, body, headers: { accept: "application/json" } });
const usage = async (ip) => (await fetchAs(ip, "/usage", { base: BASE })).json();

test("32 concurrent requests against a budget of 5 images make exactly 5 runs", { skip }, async () => {
  const ip = "203.0.113.5";
  const prompt = uniquePrompt("budget concurrent");
  const answers = await Promise.all(
    Array.from({ length: 32 }, (_, i) => post(ip, { prompt, seed: i + 1, ...small })),
  );
  const statuses = answers.map((a) => a.status);
  assert.equal(statuses.filter((s) => s === 200).length, 5, `statuses ${statuses}`);
  assert.equal(statuses.filter((s) => s === 429).length, 27, `statuses ${statuses}`);
  const refused = answers.find((a) => a.status === 429);
  assert.equal(refused.headers.get("x-should-retry"), "false");
  assert.ok(Number(refused.headers.get("retry-after")) > 0, "retry after the day's reset");
  const body = await refused.json();
  assert.equal(body.errors[0].code, 3037);
  assert.match(body.errors[0].message, /images-per-day.*retrying sooner will not help/);
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 5, "the stand-in ran 5 times");
  const spent = await usage(ip);
  assert.equal(spent.today.images, 5);
  assert.equal(spent.today.by_model[MODEL].images, 5);
  assert.equal(spent.quota.images_per_day, 5);
  // Another caller is unaffected.
  const other = await post("203.0.113.50", { prompt, seed: 99, ...small });
  assert.equal(other.status, 200, await other.text());
  // The operator reads any caller's usage with its own token; a caller's credentials do not.
  const asOperator = (authorization) =>
    fetchAs("203.0.113.50", `/usage?caller=${encodeURIComponent(`ip:${ip}`)}`, {
      base: BASE,
      headers: { authorization },
    });
  const read = await asOperator("Bearer ops-secret");
  assert.equal(read.status, 200);
  assert.equal((await read.json()).today.images, 5, "the operator sees the caller's spending");
  const refusedRead = await asOperator("Bearer not-the-operator");
  assert.equal(refusedRead.status, 401);
});

test("a cache hit and a failed run are not charged; the usage equals the runs; RateLimit headers", { skip }, async () => {
  const ip = "203.0.113.6"; // a budget of 2 images
  const prompt = uniquePrompt("budget hits");
  const first = await post(ip, { prompt, seed: 1, ...small });
  assert.equal(first.status, 200, await first.text());
  assert.match(first.headers.get("ratelimit-policy"), /"images-per-day";q=2;w=86400/);
  assert.match(first.headers.get("ratelimit"), /"images-per-day";r=1;t=\d+/);
  const again = await post(ip, { prompt, seed: 1, ...small });
  assert.equal(again.status, 200);
  assert.equal(again.headers.get("x-cache"), "HIT", "a hit");
  const failing = uniquePrompt("budget refused input");
  await arm(failing, "bad_input", { times: 1 }, BASE);
  const failed = await post(ip, { prompt: failing, seed: 2, ...small });
  assert.equal(failed.status, 400, "the model refused it");
  const second = await post(ip, { prompt, seed: 3, ...small });
  assert.equal(second.status, 200, "the hit and the failure left one image of the two");
  const over = await post(ip, { prompt, seed: 4, ...small });
  assert.equal(over.status, 429);
  const spent = await usage(ip);
  assert.equal(spent.today.images, 2);
  const runs = (await statsFor(prompt, BASE)).prompt_runs;
  assert.equal(runs, 2, "charged runs are the stand-in's runs of it");
});

test("the openai SDK raises insufficient_quota at once, without retrying", { skip }, async () => {
  const ip = "203.0.113.7"; // a budget of 1 image
  let calls = 0;
  const client = new OpenAI({
    apiKey: "any",
    baseURL: `${BASE}/v1`,
    // Its default: retries on 429, unless told not to.
    maxRetries: 2,
    defaultHeaders: { "cf-connecting-ip": ip },
    fetch: (url, init) => {
      calls += 1;
      return fetch(url, init);
    },
  });
  const prompt = uniquePrompt("budget openai");
  await client.images.generate({ prompt, size: "256x256", response_format: "b64_json" });
  calls = 0;
  await assert.rejects(
    client.images.generate({ prompt: `${prompt} again`, size: "256x256", response_format: "b64_json" }),
    (e) => e.status === 429 && e.code === "insufficient_quota" && e.type === "insufficient_quota",
  );
  assert.equal(calls, 1, "no retry");
});

test("OpenAI's n images are reserved together: a request the budget cannot cover makes none", { skip }, async () => {
  const ip = "203.0.113.10"; // a budget of 3 images
  const prompt = uniquePrompt("budget openai n");
  const generate = (n) =>
    fetchAs(ip, "/v1/images/generations", {
      method: "POST",
      base: BASE,
      body: { prompt, n, size: "256x256", response_format: "b64_json" },
    });
  const refused = await generate(4);
  assert.equal(refused.status, 429);
  assert.equal((await refused.json()).error.type, "insufficient_quota");
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 0, "not one of the four ran");
  const made = await generate(2);
  assert.equal(made.status, 200, await made.clone().text());
  assert.equal((await made.json()).data.length, 2);
  assert.equal((await usage(ip)).today.images, 2, "settled by the images made");
  // One image is left: two together are refused, and nothing runs.
  assert.equal((await generate(2)).status, 429);
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 2);
});

test("one budget of 3 spent across the native, OpenAI and jobs doors: then each refuses in its own envelope", { skip }, async () => {
  const ip = "203.0.113.11"; // a budget of 3 images
  const prompt = uniquePrompt("budget doors");
  const native = (seed) => post(ip, { prompt, seed, ...small });
  const openai = (seed) =>
    fetchAs(ip, "/v1/images/generations", {
      method: "POST",
      base: BASE,
      body: { prompt, seed, size: "256x256", response_format: "b64_json" },
    });
  const job = (seed) =>
    fetchAs(ip, "/v1/predictions", {
      method: "POST",
      base: BASE,
      body: { version: MODEL, input: { prompt, seed, ...small } },
      headers: { prefer: "wait=30" },
    });
  assert.equal((await native(1)).status, 200);
  assert.equal((await openai(2)).status, 200);
  const made = await job(3);
  assert.equal(made.status, 201);
  assert.equal((await made.json()).status, "succeeded");
  let spent = await usage(ip);
  for (let i = 0; i < 20 && spent.today.images !== 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    spent = await usage(ip);
  }
  assert.equal(spent.today.images, 3);

  const v4 = await native(4);
  assert.equal(v4.status, 429);
  assert.equal((await v4.json()).errors[0].code, 3037);
  const oa = await openai(5);
  assert.equal(oa.status, 429);
  assert.equal((await oa.json()).error.type, "insufficient_quota");
  const rep = await job(6);
  assert.equal(rep.status, 429);
  assert.match((await rep.json()).detail, /budget/);
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 3, "the stand-in ran exactly 3 times");
});

test("a job's images are reserved at create: a job the budget cannot cover is refused whole", { skip }, async () => {
  const ip = "203.0.113.8"; // a budget of 3 images
  const prompt = uniquePrompt("budget job");
  const create = (n) =>
    fetchAs(ip, "/v1/predictions", {
      method: "POST",
      base: BASE,
      body: { version: MODEL, input: { prompt, n, ...small } },
      headers: { prefer: "wait=30" },
    });
  const refused = await create(4);
  assert.equal(refused.status, 429);
  const problem = await refused.json();
  assert.equal(problem.status, 429, JSON.stringify(problem));
  assert.match(problem.detail, /budget/);
  assert.equal(refused.headers.get("x-should-retry"), "false");
  const made = await create(2);
  const job = await made.json();
  assert.equal(made.status, 201, JSON.stringify(job));
  assert.equal(job.status, "succeeded", job.error);
  // Settled by the images made, once the job ended.
  let spent = await usage(ip);
  for (let i = 0; i < 20 && spent.today.images !== 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    spent = await usage(ip);
  }
  assert.equal(spent.today.images, 2);
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 2, "nothing ran for the refused job");
  // One image is left of the three.
  assert.equal((await create(2)).status, 429);
});

test("Replicate's client reports a spent budget as the refusal it is", { skip }, async () => {
  const ip = "203.0.113.9"; // a budget of no images at all
  const replicate = new Replicate({
    auth: "unused-locally",
    baseUrl: `${BASE}/v1`,
    fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...init.headers, "cf-connecting-ip": ip } }),
  });
  const prompt = uniquePrompt("budget replicate");
  await assert.rejects(
    replicate.predictions.create({ version: MODEL, input: { prompt, ...small } }),
    (e) => {
      assert.equal(e.response?.status, 429, String(e));
      assert.match(e.message, /budget/);
      return true;
    },
  );
  assert.equal((await statsFor(prompt, BASE)).prompt_runs, 0);
});
