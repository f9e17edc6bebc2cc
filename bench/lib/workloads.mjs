// The Workers compared, the workloads, and measuring one workload on all of them.
import { quantile, requestOnce, runLoad } from "./load.mjs";
import { log } from "./shell.mjs";

/** The bearer token the bench's gateway accepts (bench/config/gateway.toml); sent to every Worker. */
export const TOKEN = "bench-token";
export const headers = { authorization: `Bearer ${TOKEN}` };

export const WORKERS = ["gateway", "passthrough", "plainjs", "plainjs-store", "static", "rustfloor"];
export const LABEL = {
  gateway: "ours",
  passthrough: "pass-through",
  plainjs: "plain JS",
  "plainjs-store": "plain JS, storing",
  static: "static",
  rustfloor: "static, Rust",
  "gateway-budget": "ours, budgets on",
};
/** Builds of our Worker (bench/compare.mjs adds other commits' builds as `gateway@<rev>`). */
export const isOurs = (worker) =>
  worker === "gateway" || worker.startsWith("gateway@") || worker === "gateway-budget";
/** The Workers that keep results in cache tiers and say so in `x-cache`. */
const stores = (worker) => isOurs(worker) || worker === "plainjs-store";
const label = (worker) => LABEL[worker] ?? worker;

const NO_STORE = { "cache-control": "no-store" };

/**
 * The workloads. Latency is the point of `text` (one request at a time: no queueing in the
 * figure); throughput is the point of the others (enough requests in flight to keep workerd busy).
 */
export const WORKLOADS = [
  { id: "text", title: "(a) text-only prompt", body: "text", concurrency: 1, gatewayCache: "MISS" },
  // The same with `Cache-Control: no-store`, so ours and the storing baseline skip their cache
  // tiers (the other baselines ignore the header); the difference from (a) is what storing costs.
  { id: "text-nostore", title: "(a') text-only, Cache-Control: no-store", body: "text", concurrency: 1, gatewayCache: "BYPASS", headers: NO_STORE },
  { id: "array", title: "(b) img2img, `image` as a 5.6 MB JSON number array", body: "array", concurrency: 4, gatewayCache: "MISS" },
  // The heavy workloads again with `no-store`: their tail without the local store's writes.
  { id: "array-nostore", title: "(b') img2img array, Cache-Control: no-store", body: "array", concurrency: 4, gatewayCache: "BYPASS", headers: NO_STORE },
  { id: "b64", title: "(c) img2img, the same image as `image_b64`", body: "b64", concurrency: 4, gatewayCache: "MISS" },
  { id: "b64-nostore", title: "(c') img2img `image_b64`, Cache-Control: no-store", body: "b64", concurrency: 4, gatewayCache: "BYPASS", headers: NO_STORE },
  { id: "cache", title: "(d) repeated seeded request (cache hits for ours and the storing baseline)", body: "cache", concurrency: 4, gatewayCache: "HIT" },
];

/** Answers why a response from `worker` under `workload` is wrong, or null. */
function checker(worker, workload) {
  return (res, bytes) => {
    if (res.headers["content-type"] !== "image/png") return `content-type ${res.headers["content-type"]}`;
    if (bytes === 0) return "empty body";
    if (stores(worker) && res.headers["x-cache"] !== workload.gatewayCache) {
      return `x-cache ${res.headers["x-cache"]} (expected ${workload.gatewayCache})`;
    }
    return null;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Makes sure a storing Worker answers the seeded request from its cache before it is measured. */
async function warmCache(url, body) {
  for (let i = 0; i < 50; i++) {
    const res = await requestOnce(url, body, headers);
    if (res.status !== 200) throw new Error(`warming the cache: HTTP ${res.status}: ${res.body}`);
    if (res.headers["x-cache"] === "HIT") return;
    await sleep(100); // the entry is written after the response (waitUntil)
  }
  throw new Error(`${url} never answered the seeded request from its cache`);
}

export function summarize(cells) {
  const latencies = cells.flatMap((c) => c.latenciesMs).sort((a, b) => a - b);
  const requests = cells.reduce((n, c) => n + c.requests, 0);
  const elapsedMs = cells.reduce((n, c) => n + c.elapsedMs, 0);
  const r = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    requests,
    errors: cells.reduce((n, c) => n + c.errors, 0),
    firstError: cells.find((c) => c.firstError)?.firstError ?? null,
    rps: r((requests / elapsedMs) * 1000, 1),
    rpsPerRound: cells.map((c) => r((c.requests / c.elapsedMs) * 1000, 1)),
    p50MsPerRound: cells.map((c) => r(quantile([...c.latenciesMs].sort((a, b) => a - b), 0.5))),
    p50Ms: r(quantile(latencies, 0.5)),
    p99Ms: r(quantile(latencies, 0.99)),
    meanMs: r(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
    ...(cells.every((c) => c.cpuMs != null) && {
      cpuMsPerRequest: r(cells.reduce((n, c) => n + c.cpuMs, 0) / Math.max(1, requests), 2),
      cpuMsPerRequestPerRound: cells.map((c) => r(c.cpuMs / Math.max(1, c.requests), 2)),
    }),
  };
}

/** Every Worker on one workload: warm-up, then rounds, the Workers' order rotating each round. */
export async function measureWorkload(server, workload, body, settings, workers = WORKERS) {
  const { urls } = server;
  const alive = () => {
    if (server.gone) throw new Error(`${server.gone}: was it killed from outside? Run again.`);
  };
  const cells = Object.fromEntries(workers.map((w) => [w, []]));
  const load = (worker, seconds) =>
    runLoad({
      url: urls[worker],
      body,
      headers: { ...headers, ...workload.headers },
      concurrency: workload.concurrency,
      durationMs: seconds * 1000,
      check: checker(worker, workload),
    });
  if (workload.id === "cache") {
    for (const worker of workers.filter(stores)) {
      await warmCache(urls[worker], body).catch((e) => {
        if (String(e).includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
        throw e;
      });
    }
  }
  for (const worker of workers) {
    const cell = await load(worker, settings.warmupSeconds);
    if (cell.firstError?.includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
  }
  alive();
  for (let round = 0; round < settings.rounds; round++) {
    const order = workers.map((_, i) => workers[(i + round) % workers.length]);
    for (const worker of order) {
      const cpuBefore = settings.cpuMs?.();
      const cell = await load(worker, settings.secondsPerCell);
      // The CPU the cell cost workerd (when the caller can read it: bench/lib/cpu.mjs).
      if (cpuBefore != null) cell.cpuMs = settings.cpuMs() - cpuBefore;
      if (cell.firstError?.includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
      alive();
      cells[worker].push(cell);
      log(`  ${workload.id} round ${round + 1}/${settings.rounds} ${label(worker).padEnd(17)} ` +
          `${((cell.requests / cell.elapsedMs) * 1000).toFixed(1)} req/s` +
          (cell.errors ? `  ${cell.errors} errors, first: ${cell.firstError}` : ""));
    }
  }
  return Object.fromEntries(workers.map((w) => [w, summarize(cells[w])]));
}

