// The production rehearsal's own checks (scripts/rehearse.mjs; tests/e2e/run.mjs runs them, with
// the jobs, permalink, OpenAI and Replicate files, against the production configurations): what
// only production settings show, and that the configurations that cannot work refuse, naming
// what to bind. Skipped against the local instances.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BASE, MODEL, REHEARSAL, TOKENS, api, generate, permalinkOf, uniquePrompt } from "./helpers.mjs";
import { call, create, settle, small } from "./jobs-helpers.mjs";

const only = { skip: !REHEARSAL && "the production rehearsal only (tests/e2e/run.mjs)" };
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("production settings: no token, no answer, from either Worker", only, async () => {
  const anonymous = { authorization: "" };
  const image = await generate({ prompt: "a", ...small }, { headers: anonymous });
  assert.equal(image.status, 401);
  const job = await create({ version: MODEL, input: { prompt: "a", ...small } }, { headers: anonymous });
  assert.equal(job.status, 401, job.text);
});

test("production settings: no local admin routes", only, async () => {
  assert.equal((await api(`${BASE}/__standin/stats`)).status, 404);
  assert.equal((await api(`${BASE}/__admin/cache-api/${"0".repeat(64)}`, { method: "DELETE" })).status, 404);
  assert.equal((await api(`${BASE}/__admin/memory`)).status, 404);
});

test("production webhooks: http (the tests' receivers) is refused with a 4xx, https to a DNS name is taken", only, async () => {
  const input = { prompt: uniquePrompt("rehearsal webhook"), ...small };
  for (const webhook of ["http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://hooks.example.com:8443/x"]) {
    const r = await create({ version: MODEL, input, webhook });
    assert.ok(r.status >= 400 && r.status < 500, `${webhook}: ${r.status} ${r.text}`);
    assert.match(r.text, /webhook/);
  }
  // Taken (its deliveries fail here: no network), so the rule does not refuse everything.
  const taken = await create({ version: MODEL, input, webhook: "https://hooks.example.com/images" });
  assert.equal(taken.status, 201, taken.text);
});

test("a job's images are served by the gateway's permalinks, as the gateway's own answers", only, async () => {
  const prompt = uniquePrompt("rehearsal permalink");
  const r = await create({ version: MODEL, input: { prompt, ...small, seed: 8 } }, { headers: { prefer: "wait=30" } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "succeeded", r.json.error);
  const permalink = await fetch(r.json.output[0]);
  assert.equal(
    permalink.status,
    200,
    "the jobs Worker stored the image where the gateway reads permalinks (IMAGES, one bucket for both)",
  );
  const again = await generate({ prompt, ...small, seed: 8 });
  assert.equal(again.res.headers.get("x-cache"), "HIT");
  assert.ok(r.json.output[0].endsWith(permalinkOf(again.res)));
  assert.ok(Buffer.from(await permalink.arrayBuffer()).equals(again.bytes));
});

test("the jobs Worker has its rate limiter: a token's 121st request in a minute is a 429", only, async () => {
  // The first token is this test's alone (helpers.mjs gives the others to every other caller).
  const headers = { authorization: `Bearer ${TOKENS[0]}` };
  const id = "0".repeat(64);
  let refused;
  let passed = 0;
  // The limiter's windows are fixed: one may end during the loop, so two windows' worth at most.
  for (let i = 0; i < 245 && !refused; i++) {
    const r = await call(`/v1/predictions/${id}`, { headers });
    if (r.status === 429) refused = r;
    else assert.equal(r.status, 404, r.text);
    passed += r.status === 404 ? 1 : 0;
  }
  assert.ok(refused, `${passed} requests, none refused`);
  assert.equal(refused.headers.get("retry-after"), "60");
  assert.equal(refused.json.status, 429);
});

/** A free local port. */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Serves the rehearsal's config of `worker` (gateway or jobs) alone, without its R2 bucket (or,
 * with `drop: "queue"`, without its queue producer), calls `probe` with its address once it
 * answers `ready`, and stops it.
 */
async function unbound(worker, ready, probe, drop = "r2") {
  const { DIR, wranglerDev, withoutR2, withoutQueueProducer } = await import("../../scripts/rehearse.mjs");
  const dir = join(DIR, "unbound", `${worker}-${drop}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "state"), { recursive: true });
  const text = readFileSync(join(DIR, worker, "wrangler.toml"), "utf8");
  const config = drop === "queue" ? withoutQueueProducer(text) : withoutR2(text);
  assert.doesNotMatch(config, drop === "queue" ? /^\[\[queues\.producers\]\]/m : /^\[\[r2_buckets\]\]/m);
  writeFileSync(join(dir, "wrangler.toml"), config);
  copyFileSync(join(DIR, worker, ".dev.vars"), join(dir, ".dev.vars"));
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const server = wranglerDev({
    configs: [join(dir, "wrangler.toml")],
    port,
    inspectorPort,
    persist: join(dir, "state"),
    registry: join(dir, "registry"), // alone: connected to no other Worker
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      assert.equal(server.exitCode, null, `wrangler dev of ${worker} exited`);
      assert.ok(Date.now() < deadline, `${worker} without R2 did not start`);
      if (await ready(base).catch(() => false)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await probe(base);
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode === null ? server.on("exit", r) : r()));
  }
}

/** A create sent straight to `base` with a token, and what it answered. */
async function createAt(base) {
  const res = await fetch(`${base}/v1/predictions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKENS[1]}`, "content-type": "application/json" },
    body: JSON.stringify({ version: MODEL, input: { prompt: "a", ...small } }),
  });
  return { status: res.status, text: await res.text() };
}

/** A create at `base` is refused as a misconfiguration that names the missing bucket. */
async function refusesNamingImages(base) {
  const r = await createAt(base);
  assert.equal(r.status, 500, r.text);
  assert.match(r.text, /misconfigured: .*IMAGES.*r2_buckets/);
}

test("a jobs Worker without the IMAGES bucket refuses, naming what to bind", only, async () => {
  await unbound(
    "jobs",
    async (base) => (await fetch(`${base}/v1/predictions/${"0".repeat(64)}`)).status === 401,
    refusesNamingImages,
  );
});

test("a gateway without the IMAGES bucket refuses the prediction routes (their permalinks would 404), naming what to bind", only, async () => {
  // Alone, with a registry of its own (its AI and JOBS_WORKER bindings connect to nothing): the
  // refusal comes before either is called, and its other routes answer (/models, below).
  await unbound(
    "gateway",
    async (base) => (await fetch(`${base}/models`)).status === 200,
    refusesNamingImages,
  );
});

test("a job whose messages cannot be sent ends failed at once, and the create says so, naming it", only, async () => {
  // The jobs Worker alone with its bucket and objects but no queue to send to: the job is stored,
  // the send fails, and the job must not stay `starting` for ever.
  await unbound(
    "jobs",
    async (base) => (await fetch(`${base}/v1/predictions/${"0".repeat(64)}`)).status === 401,
    async (base) => {
      const r = await createAt(base);
      assert.equal(r.status, 500, r.text);
      const id = r.text.match(/job ([0-9a-f]{64}) was not queued, and is failed/)?.[1];
      assert.ok(id, r.text);
      const job = await fetch(`${base}/v1/predictions/${id}`, {
        headers: { authorization: `Bearer ${TOKENS[1]}` },
      });
      assert.equal(job.status, 200);
      const body = await job.json();
      assert.equal(body.status, "failed");
      assert.equal(body.error, "the job could not be queued");
    },
    "queue",
  );
});
