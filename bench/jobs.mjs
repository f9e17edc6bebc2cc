// Throughput of queued jobs against the same images made synchronously, on a running gateway
// (`npm start`, the stand-in as Workers AI). See BENCHMARKS.md ("Jobs").
//
//   node bench/jobs.mjs [--base http://127.0.0.1:8787] [--jobs 100] [--concurrency 16] [--size 256]
//
// Synchronous: `--jobs` POST / requests, `--concurrency` at a time, each holding its connection
// until its image arrives. Queued: the same number of POST /v1/predictions (submitted
// `--concurrency` at a time), then every job polled until it ends; the time is from the first
// submission to the last job's end. Every prompt is new (no cache hits), and every job must
// succeed and every request answer 200, or the run fails.
import { option } from "./lib/shell.mjs";

const BASE = option("--base", process.env.BASE_URL ?? "http://127.0.0.1:8787");
const JOBS = Number(option("--jobs", 100));
const CONCURRENCY = Number(option("--concurrency", 16));
const SIZE = Number(option("--size", 256));
const MODEL = "@cf/bytedance/stable-diffusion-xl-lightning";
const run = `${process.pid}-${Date.now().toString(36)}`;
// A client address per request: the local rate limit (50 per 10 s per address) would otherwise
// be what is measured. Anonymous local jobs can be read from any address.
let requests = 0;
const headers = () => ({
  "content-type": "application/json",
  "cf-connecting-ip": `10.77.${(requests >> 8) & 255}.${requests++ & 255}`,
});
const input = (kind, i) => ({ prompt: `bench ${kind} ${run} #${i}`, width: SIZE, height: SIZE, seed: i });

/** Runs `task(i)` for i in 0..n, `limit` at a time. */
async function pool(n, limit, task) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

async function synchronous() {
  const started = performance.now();
  await pool(JOBS, CONCURRENCY, async (i) => {
    const res = await fetch(`${BASE}/`, { method: "POST", headers: headers(), body: JSON.stringify(input("sync", i)) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`sync request ${i}: ${res.status}`);
  });
  return performance.now() - started;
}

async function queued() {
  const started = performance.now();
  const ids = await pool(JOBS, CONCURRENCY, async (i) => {
    const res = await fetch(`${BASE}/v1/predictions`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ version: MODEL, input: input("queued", i) }),
    });
    const body = await res.json();
    if (res.status !== 201) throw new Error(`submission ${i}: ${res.status} ${JSON.stringify(body)}`);
    return body.id;
  });
  const submitted = performance.now() - started;
  const pending = new Set(ids);
  while (pending.size > 0) {
    await pool(pending.size, CONCURRENCY, async (k) => {
      const id = [...pending][k];
      if (!id) return;
      const res = await fetch(`${BASE}/v1/predictions/${id}`, { headers: headers() });
      const body = await res.json();
      if (body.status === "succeeded") pending.delete(id);
      else if (body.status === "failed" || body.status === "canceled") {
        throw new Error(`job ${id} ${body.status}: ${body.error}`);
      }
    });
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
  return { total: performance.now() - started, submitted };
}

const perSecond = (ms) => (JOBS / (ms / 1000)).toFixed(1);
console.log(`jobs bench: ${JOBS} images of ${SIZE}x${SIZE} against ${BASE}, concurrency ${CONCURRENCY}`);
const sync = await synchronous();
console.log(`synchronous: ${JOBS} requests in ${(sync / 1000).toFixed(2)} s = ${perSecond(sync)} images/s`);
const q = await queued();
console.log(
  `queued:      ${JOBS} jobs in ${(q.total / 1000).toFixed(2)} s = ${perSecond(q.total)} images/s ` +
    `(all submitted in ${(q.submitted / 1000).toFixed(2)} s)`,
);
