// A bounded load against a running gateway (BASE_URL): N requests at C concurrency, mixing valid,
// invalid, repeated (cached) and img2img requests with armed stand-in faults. It fails if any
// response has a status its request did not call for, in particular any 5xx other than the
// mapped faults', or if any image body is not a whole PNG of the requested size.
//
//   node tests/load/load.mjs [--requests 10000] [--concurrency 64] [--seed 1]
import { parseArgs } from "node:util";
import { PNG } from "pngjs";
import { arm, fixture, someIp } from "../e2e/helpers.mjs";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
  },
});
const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8787";
const TOTAL = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const RUN = `load-${Date.now().toString(36)}`;

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
];

/** One request: its body, and the statuses and image size it may answer with. */
async function makeRequest(i) {
  const r = random();
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
  const prompt = `${RUN} fault ${behaviour} ${i}`;
  await arm(prompt, behaviour, { times });
  return { kind: `fault:${behaviour}`, body: { prompt, width: 256, height: 256, seed: 1 }, ok: statuses };
}

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
    const request = await makeRequest(i);
    const started = performance.now();
    let status;
    try {
      const res = await fetch(`${BASE}/`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": someIp() },
        body: typeof request.body === "string" ? request.body : JSON.stringify(request.body),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      status = res.status;
      latencies.push(performance.now() - started);
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
      problems.push(`${request.kind}: ${e.message}`);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const k = byKind.get(request.kind) ?? { n: 0 };
    k.n++;
    byKind.set(request.kind, k);
  }
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
process.exit(problems.length === 0 ? 0 : 1);
