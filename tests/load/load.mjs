// A bounded load against a running gateway (BASE_URL): N requests at C concurrency, mixing valid,
// invalid, repeated (cached) and img2img requests with armed stand-in faults. It fails if any
// response has a status its request did not call for, in particular any 5xx other than the
// mapped faults', or if any image body is not a whole PNG of the requested size.
//
// With GATEWAY_LOG (the file wrangler's output goes to; scripts/load.sh sets it), it also fails
// if an answer has no log line of the gateway's with its request id: an answer the gateway never
// saw (the runtime's own 500, say) must show, even when its status happens to be expected.
//
//   node tests/load/load.mjs [--requests 10000] [--concurrency 64] [--seed 1] [--mix faults]
//
// `--mix faults` sends armed faults only (each after its arming request), the kind of request the
// lost answers of issue 26 were; `--faults a,b` limits them to those behaviours.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { PNG } from "pngjs";
import { fixture, someIp } from "../e2e/helpers.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
    mix: { type: "string", default: "all" },
    faults: { type: "string" },
  },
});
if (!["all", "faults"].includes(values.mix)) throw new Error(`--mix is "all" or "faults", not ${values.mix}`);
const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8787";
const TOTAL = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const RUN = `load-${Date.now().toString(36)}`;
const GATEWAY_LOG = process.env.GATEWAY_LOG;
/** Each answer's request id: sent as `cf-ray`, which the gateway takes as its id. */
const answered = [];
let nextId = 0;
const newId = () => `${RUN}-${nextId++}`;

// A small deterministic generator, so a run can be repeated exactly.
let state = BigInt(values.seed) | 1n;
const random = () => {
  state ^= state << 13n;
  state ^= state >> 7n;
  state ^= state << 17n;
  state &= (1n << 64n) - 1n;
  return Number(state % 1_000_000n) / 1_000_000;
};
const pick = (items) => items[Math.floor(random() * items.length)];

const picture = [...fixture("photo-256.png")];
const FAULTS = [
  // behaviour, times armed, statuses the gateway may answer with
  ["capacity", 3, [503]],
  ["bad_input", 1, [400]],
  ["not_image", 1, [502]],
  ["cut_short", 1, [502]],
  ["truncated", 1, [502]],
].filter(([behaviour]) => values.faults === undefined || values.faults.split(",").includes(behaviour));
if (FAULTS.length === 0) throw new Error(`--faults names no behaviour the script knows: ${values.faults}`);

/** One request: its body, and the statuses and image size it may answer with. */
async function makeRequest(i) {
  const r = values.mix === "faults" ? 1 : random();
  const size = pick([256, 264, 320]);
  if (r < 0.35) {
    // Valid, from a small pool of prompts and seeds: later ones repeat earlier ones (cache hits).
    const body = { prompt: `${RUN} pool ${Math.floor(random() * 150)}`, width: size, height: size, seed: Math.floor(random() * 4) };
    return { kind: "valid", body, ok: [200], size };
  }
  if (r < 0.55) {
    // The very same request, over and over: always a cache hit after the first.
    return { kind: "repeat", body: { prompt: `${RUN} hot`, width: 256, height: 256, seed: 7 }, ok: [200], size: 256 };
  }
  if (r < 0.75) {
    const broken = pick([
      { prompt: "" },
      { prompt: "a", num_steps: 21 },
      { prompt: "a", width: 100 },
      { prompt: "a", seed: -1 },
      { prompt: "a", image: [1, 2, 3] },
      { prompt: "a", mask: [...fixture("mask-256.png")] },
      { prompt: "a", image_b64: "!!!" },
      { prompt: "a", strength: 2 },
      "{not json",
      "[1,2]",
    ]);
    return { kind: "invalid", body: broken, ok: [400] };
  }
  if (r < 0.9) {
    const body = { prompt: `${RUN} img2img ${i % 40}`, image: picture, strength: 0.5, width: 256, height: 256, seed: 1 };
    return { kind: "img2img", body, ok: [200], size: 256 };
  }
  const [behaviour, times, statuses] = pick(FAULTS);
  // Closed by a bracket: the stand-in arms by substring, and "fault x 1" is inside "fault x 12".
  const prompt = `${RUN} fault ${behaviour} [${i}]`;
  await arm(prompt, behaviour, times);
  return { kind: `fault:${behaviour}`, body: { prompt, width: 256, height: 256, seed: 1 }, ok: statuses };
}

/** Arms the stand-in through the gateway, as tests/e2e/helpers.mjs does, with a request id. */
async function arm(promptContains, behaviour, times) {
  const id = newId();
  const res = await fetch(`${BASE}/__standin/arm`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-ray": id },
    body: JSON.stringify({ prompt_contains: promptContains, behaviour, times }),
  });
  const text = await res.text();
  answered.push({ id, kind: "arm", status: res.status });
  if (res.status !== 200) throw new Error(`arming failed: ${res.status} ${text}`);
}

/** What a failed fetch says, with its cause (undici's "fetch failed" alone names none). */
const failure = (e) => (e.cause === undefined ? e.message : `${e.message} (${e.cause.code ?? e.cause.message})`);

function verifyImage(bytes, size) {
  const png = PNG.sync.read(bytes); // throws on anything that is not a whole PNG
  if (png.width !== size || png.height !== size) throw new Error(`image is ${png.width}x${png.height}, not ${size}`);
}

const latencies = [];
const byStatus = new Map();
const byKind = new Map();
const problems = [];
let next = 0;
let imagesVerified = 0;

async function worker() {
  for (let i = next++; i < TOTAL; i = next++) {
    let request;
    try {
      request = await makeRequest(i);
    } catch (e) {
      problems.push(`arming request ${i}: ${failure(e)}`);
      continue;
    }
    const started = performance.now();
    const id = newId();
    let status;
    try {
      const res = await fetch(`${BASE}/`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": someIp(), "cf-ray": id },
        body: typeof request.body === "string" ? request.body : JSON.stringify(request.body),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      status = res.status;
      latencies.push(performance.now() - started);
      answered.push({ id, kind: request.kind, status });
      const echoed = res.headers.get("x-request-id");
      if (echoed !== null && echoed !== id) problems.push(`${request.kind}: x-request-id ${echoed}, sent ${id}`);
      if (!request.ok.includes(status)) {
        problems.push(`${request.kind}: status ${status} (${bytes.toString("utf8", 0, 200)})`);
      } else if (status === 200) {
        verifyImage(bytes, request.size);
        imagesVerified++;
      } else if (!res.headers.get("content-type")?.startsWith("application/json")) {
        problems.push(`${request.kind}: ${status} without the JSON envelope`);
      }
    } catch (e) {
      status = "error";
      problems.push(`${request.kind}: ${failure(e)}`);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const k = byKind.get(request.kind) ?? { n: 0 };
    k.n++;
    byKind.set(request.kind, k);
  }
}

/**
 * The answers with no log line of the gateway's: the request ids of `answered` missing from the
 * JSON lines of GATEWAY_LOG. wrangler writes its output a little after the answers went out, so
 * the file is read again for a while before anything is called missing.
 */
async function unlogged() {
  let missing = answered;
  for (let tries = 0; tries < 20 && missing.length > 0; tries++) {
    if (tries > 0) await sleep(500);
    const logged = new Set();
    for (const match of readFileSync(GATEWAY_LOG, "utf8").matchAll(/"request_id":"([^"]*)"/g)) logged.add(match[1]);
    missing = missing.filter(({ id }) => !logged.has(id));
  }
  return missing;
}

const started = performance.now();
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(1);

console.log(`load: ${TOTAL} requests at concurrency ${CONCURRENCY} against ${BASE} in ${seconds.toFixed(1)} s (${(TOTAL / seconds).toFixed(0)} req/s)`);
console.log(`latency ms: p50 ${pct(50)}, p99 ${pct(99)}, max ${latencies.at(-1)?.toFixed(1)}`);
console.log(`by status: ${[...byStatus].sort().map(([s, n]) => `${s}=${n}`).join(" ")}`);
console.log(`by kind:   ${[...byKind].sort().map(([k, v]) => `${k}=${v.n}`).join(" ")}`);
console.log(`image bodies verified whole and of the requested size: ${imagesVerified}`);
const unexpected5xx = problems.filter((p) => / status 5\d\d/.test(p)).length;
console.log(`unexpected statuses: ${problems.length} (of which 5xx: ${unexpected5xx})`);
for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
let missing = [];
if (GATEWAY_LOG === undefined) {
  console.log("answers without the gateway's log line: not checked (GATEWAY_LOG not set)");
} else {
  missing = await unlogged();
  console.log(`answers without the gateway's log line: ${missing.length} of ${answered.length}`);
  for (const { id, kind, status } of missing.slice(0, 20)) console.log(`  ${id} ${kind}: status ${status}`);
}
process.exit(problems.length === 0 && missing.length === 0 ? 0 : 1);
