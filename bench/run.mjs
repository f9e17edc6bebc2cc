// `npm run bench`: our Worker against three baselines, in one local workerd, on the same stand-in.
// See BENCHMARKS.md for the method and the latest figures.
//
//   npm run bench                 # full run (about 10 minutes), writes bench/results/latest.json
//   npm run bench -- --smoke      # a couple of seconds per cell, checks that everything works
//                                 # (also BENCH_SMOKE=1), writes bench/results/smoke.json
//   options: --out <file>  --rounds N  --seconds S (per cell and round)  --workloads a,b
//            --no-build (development: serve build/ and emulator/build/ as they are; no bundle size)
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { ensureFixtures, CACHE_DIR } from "./lib/fixtures.mjs";
import { quantile, requestOnce, runLoad } from "./lib/load.mjs";
import { measureMemory, printMemory } from "./memory.mjs";
import { startServer as startServerWith } from "./lib/start-server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo"), "bin");
const env = { ...process.env, PATH: `${cargoBin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };

// ---------------------------------------------------------------------------------------------
// Settings

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const smoke = argv.includes("--smoke") || ["1", "true"].includes(process.env.BENCH_SMOKE ?? "");
const settings = {
  mode: smoke ? "smoke" : "full",
  rounds: Number(option("--rounds") ?? (smoke ? 1 : 5)),
  secondsPerCell: Number(option("--seconds") ?? (smoke ? 2 : 4)),
  warmupSeconds: smoke ? 0.5 : 2,
  ownWorkSeconds: smoke ? 0.3 : 5,
};
const outFile = path.resolve(option("--out") ?? path.join(here, "results", smoke ? "smoke.json" : "latest.json"));

/** The bearer token the bench's gateway accepts (bench/config/gateway.toml); sent to every Worker. */
const TOKEN = "bench-token";
const headers = { authorization: `Bearer ${TOKEN}` };

const WORKERS = ["gateway", "passthrough", "plainjs", "static", "rustfloor"];
const LABEL = { gateway: "ours", passthrough: "pass-through", plainjs: "plain JS", static: "static", rustfloor: "static, Rust" };

/**
 * The workloads. Latency is the point of `text` (one request at a time: no queueing in the
 * figure); throughput is the point of the others (enough requests in flight to keep workerd busy).
 */
const WORKLOADS = [
  { id: "text", title: "(a) text-only prompt", body: "text", concurrency: 1, gatewayCache: "MISS" },
  // Not a target: the same with `Cache-Control: no-store`, so ours skips its cache tiers (the
  // baselines ignore the header); the difference from (a) is what the tier lookups cost.
  { id: "text-nostore", title: "(a') text-only, Cache-Control: no-store", body: "text", concurrency: 1, gatewayCache: "BYPASS", headers: { "cache-control": "no-store" } },
  { id: "array", title: "(b) img2img, `image` as a 5.6 MB JSON number array", body: "array", concurrency: 4, gatewayCache: "MISS" },
  { id: "b64", title: "(c) img2img, the same image as `image_b64`", body: "b64", concurrency: 4, gatewayCache: "MISS" },
  { id: "cache", title: "(d) repeated seeded request (cache hits for ours)", body: "cache", concurrency: 4, gatewayCache: "HIT" },
];
const onlyWorkloads = option("--workloads")?.split(",");
const workloads = onlyWorkloads ? WORKLOADS.filter((w) => onlyWorkloads.includes(w.id)) : WORKLOADS;

const log = (...a) => console.error("[bench]", ...a);
const startServer = (names) => startServerWith(names, { env });

// ---------------------------------------------------------------------------------------------
// Steps

/** Runs a command quietly; on failure shows its output and stops. */
function run(cmd, args, { cwd = root, quiet = true } = {}) {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    console.error(e.stdout ?? "", e.stderr ?? "");
    throw new Error(`${cmd} ${args.join(" ")} failed`);
  }
}

/**
 * The production deploy bundle, as `npm run deploy` would upload it: `wrangler deploy --dry-run`
 * on wrangler.toml, which also runs its [build] command (worker-build): this is the build of our
 * Worker that the benchmark then serves from build/.
 */
function deployBundle() {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "sdxl-bench-bundle-"));
  try {
    const output = run(path.join(root, "node_modules/.bin/wrangler"), [
      "deploy", "--dry-run", "--outdir", outdir, "--config", "wrangler.toml",
    ]);
    const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(output);
    if (!m) throw new Error(`no "Total Upload" line in wrangler's output:\n${output}`);
    const files = {};
    for (const name of readdirSync(outdir)) {
      const file = path.join(outdir, name);
      if (!statSync(file).isFile() || /\.(map|json|md)$/.test(name)) continue;
      const bytes = readFileSync(file);
      files[name] = { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
      if (name.endsWith(".wasm")) files[name].sections = wasmSections(bytes);
    }
    return { totalKiB: Number(m[1]), gzipKiB: Number(m[2]), files };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Where a Wasm module's bytes go: each section's size, raw and gzipped on its own. */
function wasmSections(bytes) {
  const ids = ["custom", "type", "import", "function", "table", "memory", "global", "export",
    "start", "element", "code", "data", "datacount"];
  const sections = {};
  let at = 8; // magic number and version
  const leb128 = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb128();
    const start = at;
    let name = ids[id] ?? `section ${id}`;
    if (id === 0) {
      const length = leb128();
      name = `custom "${bytes.subarray(at, at + length).toString()}"`;
    }
    const body = bytes.subarray(start, start + size);
    sections[name] = { bytes: size, gzipBytes: gzipSync(body, { level: 9 }).length };
    at = start + size;
  }
  return sections;
}

/**
 * The gateway's own work per request: natively, as Wasm in Node's V8, and as Wasm in workerd's
 * V8 (bench/workers/ownwork.js), each on the same sdxl-core build.
 */
async function ownWork(fixtures) {
  const manifest = path.join(here, "native/Cargo.toml");
  const kinds = ["array", "b64", "text"];
  const bodies = kinds.map((k) => `${k}=${fixtures.files[k]}`);
  const seconds = String(settings.ownWorkSeconds);
  const native = JSON.parse(run("cargo", ["run", "-q", "--release", "--manifest-path", manifest, "--", "--seconds", seconds, ...bodies]));
  run("cargo", ["build", "-q", "--release", "--lib", "--target", "wasm32-unknown-unknown", "--manifest-path", manifest]);
  const wasm = path.join(here, "native/target/wasm32-unknown-unknown/release/sdxl_bench_native.wasm");
  const v8 = JSON.parse(run("node", [path.join(here, "lib/wasm-timing.mjs"), wasm, "--seconds", seconds, ...bodies]));
  const server = await startServer(["ownwork"]);
  const workerd = { workerd: run(path.join(root, "node_modules/.bin/workerd"), ["--version"]).trim(), results: {} };
  try {
    for (const kind of kinds) {
      const response = await fetch(`${server.urls.ownwork}?seconds=${seconds}`, {
        method: "POST",
        body: readFileSync(fixtures.files[kind]),
      });
      if (!response.ok) throw new Error(`own work in workerd, ${kind}: ${response.status} ${await response.text()}`);
      workerd.results[kind] = await response.json();
    }
  } finally {
    await server.stop();
  }
  return { native, v8, workerd };
}

/** The stand-in's precomputed PNG, fetched through the pass-through Worker, for bench-static. */
async function captureStandinImage(bodies) {
  const server = await startServer(["standin", "passthrough"]);
  try {
    const res = await requestOnce(server.urls.passthrough, bodies.text, headers);
    if (res.status !== 200) throw new Error(`the stand-in answered ${res.status}: ${res.body}`);
    writeFileSync(path.join(CACHE_DIR, "standin.png"), res.body);
    return res.body.length;
  } finally {
    await server.stop();
  }
}

/** Answers why a response from `worker` under `workload` is wrong, or null. */
function checker(worker, workload) {
  return (res, bytes) => {
    if (res.headers["content-type"] !== "image/png") return `content-type ${res.headers["content-type"]}`;
    if (bytes === 0) return "empty body";
    if (worker === "gateway" && res.headers["x-cache"] !== workload.gatewayCache) {
      return `x-cache ${res.headers["x-cache"]} (expected ${workload.gatewayCache})`;
    }
    return null;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Makes sure our Worker answers the seeded request from its cache before it is measured. */
async function warmCache(url, body) {
  for (let i = 0; i < 50; i++) {
    const res = await requestOnce(url, body, headers);
    if (res.status !== 200) throw new Error(`warming the cache: HTTP ${res.status}: ${res.body}`);
    if (res.headers["x-cache"] === "HIT") return;
    await sleep(100); // the entry is written after the response (waitUntil)
  }
  throw new Error("our Worker never answered the seeded request from its cache");
}

function summarize(cells) {
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
  };
}

/** Every Worker on one workload: warm-up, then rounds, the Workers' order rotating each round. */
async function measureWorkload(server, workload, body) {
  const { urls } = server;
  const alive = () => {
    if (server.gone) throw new Error(`${server.gone}: was it killed from outside? Run again.`);
  };
  const cells = Object.fromEntries(WORKERS.map((w) => [w, []]));
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
    await warmCache(urls.gateway, body).catch((e) => {
      if (String(e).includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
      throw e;
    });
  }
  for (const worker of WORKERS) {
    const cell = await load(worker, settings.warmupSeconds);
    if (cell.firstError?.includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
  }
  alive();
  for (let round = 0; round < settings.rounds; round++) {
    const order = WORKERS.map((_, i) => WORKERS[(i + round) % WORKERS.length]);
    for (const worker of order) {
      const cell = await load(worker, settings.secondsPerCell);
      if (cell.firstError?.includes("ECONNREFUSED")) server.gone ??= "workerd stopped accepting connections";
      alive();
      cells[worker].push(cell);
      log(`  ${workload.id} round ${round + 1}/${settings.rounds} ${LABEL[worker].padEnd(12)} ` +
          `${((cell.requests / cell.elapsedMs) * 1000).toFixed(1)} req/s` +
          (cell.errors ? `  ${cell.errors} errors, first: ${cell.firstError}` : ""));
    }
  }
  return Object.fromEntries(WORKERS.map((w) => [w, summarize(cells[w])]));
}

// ---------------------------------------------------------------------------------------------
// Report

const ratio = (a, b) => Math.round((a / b) * 1000) / 1000;

/** The ratio in each round (the two cells ran minutes apart at most): how much noise moved it. */
const perRound = (a, b) => a.map((x, i) => ratio(x, b[i]));
const spread = (values) => `${Math.min(...values)}-${Math.max(...values)}`;

function ratiosAndTargets(results, bundle, own) {
  const r = results;
  const ratios = {};
  const ratiosPerRound = {};
  const targets = [];
  if (r.text) {
    ratios.textLatencyP50_oursOverPassthrough = ratio(r.text.gateway.p50Ms, r.text.passthrough.p50Ms);
    ratios.textLatencyP99_oursOverPassthrough = ratio(r.text.gateway.p99Ms, r.text.passthrough.p99Ms);
    ratiosPerRound.textLatencyP50_oursOverPassthrough = perRound(r.text.gateway.p50MsPerRound, r.text.passthrough.p50MsPerRound);
    targets.push({
      target: "text-only latency (p50) <= 1.05x pass-through",
      measured: `${ratios.textLatencyP50_oursOverPassthrough}x (${r.text.gateway.p50Ms} vs ${r.text.passthrough.p50Ms} ms; ` +
        `rounds ${spread(ratiosPerRound.textLatencyP50_oursOverPassthrough)})`,
      met: ratios.textLatencyP50_oursOverPassthrough <= 1.05,
    });
  }
  if (r.array) {
    ratios.arrayThroughput_oursOverPlainjs = ratio(r.array.gateway.rps, r.array.plainjs.rps);
    ratios.arrayThroughput_oursOverPassthrough = ratio(r.array.gateway.rps, r.array.passthrough.rps);
    ratiosPerRound.arrayThroughput_oursOverPlainjs = perRound(r.array.gateway.rpsPerRound, r.array.plainjs.rpsPerRound);
    targets.push({
      target: "img2img array: throughput >= 3x plain JS",
      measured: `${ratios.arrayThroughput_oursOverPlainjs}x (${r.array.gateway.rps} vs ${r.array.plainjs.rps} req/s; ` +
        `rounds ${spread(ratiosPerRound.arrayThroughput_oursOverPlainjs)})`,
      met: ratios.arrayThroughput_oursOverPlainjs >= 3,
    });
  }
  // Judged where the Worker runs: in workerd (mean of whole-millisecond readings; see
  // bench/workers/ownwork.js). Node's V8 is older and lacks Uint8Array.prototype.toBase64.
  const arrayWork = own?.workerd?.results?.array?.steps?.ownWork?.mean;
  if (arrayWork !== undefined) {
    targets.push({
      target: "img2img array: < 10 ms of the Worker's own work per request",
      measured: `${arrayWork} ms (Wasm in workerd, mean of ${own.workerd.results.array.runs} runs; ` +
        `in Node ${process.versions.node}'s V8 ${own.v8.results.array.gateway.ownWork.median} ms; ` +
        `native ${own.native.array.total.median} ms for the Rust part alone)`,
      met: arrayWork < 10,
    });
  }
  if (r["text-nostore"]) {
    const t = r["text-nostore"];
    ratios.textNoStoreLatencyP50_oursOverPassthrough = ratio(t.gateway.p50Ms, t.passthrough.p50Ms);
  }
  if (r.b64) {
    ratios.b64Throughput_oursOverPlainjs = ratio(r.b64.gateway.rps, r.b64.plainjs.rps);
  }
  if (r.cache) {
    ratios.cacheThroughput_oursOverStatic = ratio(r.cache.gateway.rps, r.cache.static.rps);
    ratiosPerRound.cacheThroughput_oursOverStatic = perRound(r.cache.gateway.rpsPerRound, r.cache.static.rpsPerRound);
    // The floor of any Worker built as ours is (Rust on the worker crate), against the JS one.
    ratios.cacheThroughput_rustStaticOverStatic = ratio(r.cache.rustfloor.rps, r.cache.static.rps);
    ratios.cacheThroughput_oursOverRustStatic = ratio(r.cache.gateway.rps, r.cache.rustfloor.rps);
    targets.push({
      target: "cache hits: throughput >= 0.9x static",
      measured: `${ratios.cacheThroughput_oursOverStatic}x (${r.cache.gateway.rps} vs ${r.cache.static.rps} req/s; ` +
        `rounds ${spread(ratiosPerRound.cacheThroughput_oursOverStatic)}); the static Worker in Rust: ` +
        `${ratios.cacheThroughput_rustStaticOverStatic}x static, ours ${ratios.cacheThroughput_oursOverRustStatic}x it`,
      met: ratios.cacheThroughput_oursOverStatic >= 0.9,
    });
  }
  if (bundle) {
    targets.push({
      // KB read as KiB, the unit wrangler reports and Cloudflare's size limits use.
      target: "deploy bundle <= 250 KiB gzip",
      measured: `${bundle.gzipKiB} KiB gzip (${bundle.totalKiB} KiB raw)`,
      met: bundle.gzipKiB <= 250,
    });
  }
  return { ratios, ratiosPerRound, targets };
}

function printTable(report) {
  const out = [];
  const cols = ["workload", "Worker", "conc.", "req/s", "p50 ms", "p99 ms", "requests", "errors"];
  const rows = [];
  for (const w of workloads) {
    const res = report.workloads[w.id];
    if (!res) continue;
    for (const worker of WORKERS) {
      const s = res.workers[worker];
      rows.push([w.id, LABEL[worker], w.concurrency, s.rps, s.p50Ms, s.p99Ms, s.requests, s.errors].map(String));
    }
  }
  const width = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
  out.push(line(cols), width.map((n) => "-".repeat(n)).join("  "), ...rows.map(line));
  out.push("", "ratios:");
  for (const [k, v] of Object.entries(report.ratios)) out.push(`  ${k} = ${v}`);
  out.push("", "targets:");
  for (const t of report.targets) out.push(`  [${t.met ? "met " : "MISS"}] ${t.target}: ${t.measured}`);
  const own = report.ownWork?.v8?.results?.array;
  if (own) {
    const g = own.gateway;
    const p = own.plainjs;
    out.push("", `own work per img2img array request (median ms, Wasm/JS in Node's V8; image to JS by ${own.imageToJsPath}):`);
    out.push(`  ours:     body into Wasm ${g.bodyIntoWasm.median}, parse ${g.parse.median}, validate ${g.validate.median}, ` +
             `cache key ${g.key.median}, image to JS as image_b64 ${g.imageToJs.median} = ${g.ownWork.median}` +
             ` (+ RPC serialization ${g.rpcSerialize.median})`);
    out.push(`  (with AI_IMAGE_ENCODING=array the image step is a number array: ${g.imageToJsArray.median}` +
             ` + RPC serialization ${g.rpcSerializeArray.median})`);
    out.push(`  plain JS: JSON.parse ${p.jsonParse.median}, normalize ${p.normalize.median} = ${p.ownWork.median}` +
             ` (+ RPC serialization ${p.rpcSerialize.median})`);
    const d = report.ownWork.workerd?.results?.array;
    if (d) {
      const m = (step) => d.steps[step].mean;
      out.push(`  ours in workerd (mean ms of ${d.runs} runs; image to JS by ${d.imageToJsPath}): body into Wasm ` +
               `${m("bodyIntoWasm")}, parse ${m("parse")}, validate ${m("validate")}, cache key ${m("key")}, ` +
               `image to JS ${m("imageToJs")} = ${m("ownWork")}`);
    }
    const n = report.ownWork.native.array;
    out.push(`  ours natively (x86-64): parse ${n.parse.median}, validate ${n.validate.median}, cache key ${n.key.median} = ${n.total.median}`);
  }
  if (report.bundle) {
    out.push("", `deploy bundle: ${report.bundle.totalKiB} KiB, gzip ${report.bundle.gzipKiB} KiB`);
    for (const [name, f] of Object.entries(report.bundle.files)) {
      out.push(`  ${name}: ${f.bytes} bytes, gzip -9 ${f.gzipBytes}`);
      for (const [section, x] of Object.entries(f.sections ?? {})) {
        if (x.bytes >= 4096) out.push(`    ${section}: ${x.bytes} bytes, gzip -9 ${x.gzipBytes}`);
      }
    }
  }
  console.log(out.join("\n"));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const loadAverageAtStart = os.loadavg();
  log(`mode: ${settings.mode} (${settings.rounds} round(s) x ${settings.secondsPerCell} s per Worker and workload)`);

  let bundle = null;
  if (argv.includes("--no-build")) {
    log("--no-build: serving build/ and emulator/build/ as they are; no bundle size");
  } else {
    log("building the stand-in (scripts/build-worker.sh emulator)");
    run("bash", ["scripts/build-worker.sh", "emulator"]);
    log("deploy bundle: wrangler deploy --dry-run (also builds our Worker into build/)");
    bundle = deployBundle();
    log(`  ${bundle.totalKiB} KiB, gzip ${bundle.gzipKiB} KiB`);
  }

  const fixtures = ensureFixtures({ log });
  const bodies = Object.fromEntries(Object.entries(fixtures.files).map(([k, f]) => [k, readFileSync(f)]));

  log("own work per request (native, Wasm in Node's V8, Wasm in workerd)");
  const own = await ownWork(fixtures);

  log("capturing the stand-in's precomputed image for the static Worker");
  const standinImageBytes = await captureStandinImage(bodies).catch((e) => {
    log(`capturing failed (${e.message}); once more`);
    return captureStandinImage(bodies);
  });

  // Built now: it answers the image just captured.
  log("building the static Worker in Rust (scripts/build-worker.sh bench/rust-floor)");
  run("bash", ["scripts/build-worker.sh", "bench/rust-floor"]);

  log("starting one workerd with the stand-in and the five Workers");
  let server = await startServer(["standin", ...WORKERS]);
  const results = {};
  let restarts = 0;
  try {
    for (const workload of workloads) {
      log(`${workload.title}: concurrency ${workload.concurrency}`);
      for (;;) {
        try {
          results[workload.id] = await measureWorkload(server, workload, bodies[workload.body]);
          break;
        } catch (e) {
          // A workerd killed from outside (another job's clean-up on a shared machine): start a
          // new one and measure this workload again from its warm-up, at most twice per run.
          if (!server.gone || restarts >= 2) throw e;
          restarts += 1;
          log(`${server.gone}; starting a new one and measuring ${workload.id} again`);
          await server.stop();
          server = await startServer(["standin", ...WORKERS]);
        }
      }
    }
  } finally {
    await server.stop();
  }

  log("memory: a fresh workerd, max-size requests (bench/memory.mjs)");
  const memory = await measureMemory({ env, log, sequential: smoke ? 10 : 100 });

  const { ratios, ratiosPerRound, targets } = ratiosAndTargets(results, bundle, own);
  const report = {
    mode: settings.mode,
    startedAt: started.toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      node: process.version,
      workerd: run(path.join(root, "node_modules/.bin/workerd"), ["--version"]).trim(),
      wrangler: JSON.parse(readFileSync(path.join(root, "node_modules/wrangler/package.json"), "utf8")).version,
      gitCommit: run("git", ["rev-parse", "--short", "HEAD"]).trim(),
      gitDirty: run("git", ["status", "--porcelain", "--", "src", "core", "emulator"]).trim() !== "",
      // Other work on the machine during the run (1-minute load average; 2 cores = 2.0 busy).
      loadAverage: { start: loadAverageAtStart[0], end: os.loadavg()[0] },
    },
    settings,
    serverRestarts: restarts,
    fixtures: { image: fixtures.image, bodyBytes: fixtures.bodyBytes, standinImageBytes },
    workloads: Object.fromEntries(
      workloads.filter((w) => results[w.id]).map((w) => [
        w.id,
        { title: w.title, concurrency: w.concurrency, workers: results[w.id] },
      ]),
    ),
    ratios,
    ratiosPerRound,
    targets,
    bundle,
    ownWork: own,
    memory,
  };
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  printTable(report);
  printMemory(memory);
  log(`results: ${path.relative(root, outFile)}`);

  const errors = workloads.flatMap((w) => WORKERS.map((k) => results[w.id][k].errors)).reduce((a, b) => a + b, 0);
  if (errors > 0) {
    log(`${errors} requests failed: see "errors" above`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
