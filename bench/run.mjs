// `npm run bench`: our Worker against five baselines, in one local workerd, on the same stand-in.
// See BENCHMARKS.md for the method and the latest figures; the targets are bench/lib/targets.mjs.
//
//   npm run bench                 # full run (about 20 minutes: 7 workloads x 6 Workers), writes bench/results/latest.json
//   npm run bench -- --smoke      # a couple of seconds per cell, checks that everything works
//                                 # (also BENCH_SMOKE=1), writes bench/results/smoke.json
//   options: --out <file>  --rounds N  --seconds S (per cell and round)  --workloads a,b
//            --no-build (development: serve build/ and emulator/build/ as they are; no bundle size)
//
// The parts: lib/workloads.mjs (the Workers and workloads), lib/bundle.mjs (the deploy bundle),
// lib/own-work.mjs (the Worker's own work per request), lib/targets.mjs (targets and ratios),
// lib/report.mjs (the printed table), memory.mjs (the memory section).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deployBundle } from "./lib/bundle.mjs";
import { ensureFixtures, CACHE_DIR } from "./lib/fixtures.mjs";
import { requestOnce } from "./lib/load.mjs";
import { ownWork } from "./lib/own-work.mjs";
import { printTable } from "./lib/report.mjs";
import { env, log, option, root, run } from "./lib/shell.mjs";
import { startServer as startServerWith } from "./lib/start-server.mjs";
import { judge } from "./lib/targets.mjs";
import { WORKERS, WORKLOADS, headers, measureWorkload } from "./lib/workloads.mjs";
import { measureMemory, printMemory } from "./memory.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Settings

const argv = process.argv.slice(2);
const smoke = argv.includes("--smoke") || ["1", "true"].includes(process.env.BENCH_SMOKE ?? "");
const settings = {
  mode: smoke ? "smoke" : "full",
  rounds: Number(option("--rounds") ?? (smoke ? 1 : 5)),
  secondsPerCell: Number(option("--seconds") ?? (smoke ? 2 : 4)),
  warmupSeconds: smoke ? 0.5 : 2,
  ownWorkSeconds: smoke ? 0.3 : 5,
};
const outFile = path.resolve(option("--out") ?? path.join(here, "results", smoke ? "smoke.json" : "latest.json"));
const onlyWorkloads = option("--workloads")?.split(",");
const workloads = onlyWorkloads ? WORKLOADS.filter((w) => onlyWorkloads.includes(w.id)) : WORKLOADS;
const startServer = (names) => startServerWith(names, { env });

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

async function main() {
  const started = new Date();
  const loadAverageAtStart = os.loadavg();
  // The commit built and measured: read before the build, not after a run of many minutes.
  const gitCommit = run("git", ["rev-parse", "--short", "HEAD"]).trim();
  const gitDirty = run("git", ["status", "--porcelain", "--", "src", "core", "emulator"]).trim() !== "";
  log(`mode: ${settings.mode} (${settings.rounds} round(s) x ${settings.secondsPerCell} s per Worker and workload)`);

  let bundle = null;
  if (argv.includes("--no-build")) {
    log("--no-build: serving build/ and emulator/build/ as they are; no bundle size");
  } else {
    log("building the stand-in (scripts/build-worker.sh emulator)");
    run("bash", ["scripts/build-worker.sh", "emulator"]);
    log("deploy bundle: wrangler deploy --dry-run (also builds our Worker into build/)");
    bundle = deployBundle();
    log(`  ${bundle.totalKiB} KiB, gzip ${bundle.gzipKiB} KiB (the jobs Worker: gzip ${bundle.jobs.gzipKiB} KiB)`);
  }

  const fixtures = ensureFixtures({ log });
  const bodies = Object.fromEntries(Object.entries(fixtures.files).map(([k, f]) => [k, readFileSync(f)]));

  log("own work per request (native, Wasm in Node's V8, Wasm in workerd)");
  const own = await ownWork(fixtures, { seconds: settings.ownWorkSeconds, startServer });

  log("capturing the stand-in's precomputed image for the static Worker");
  const standinImageBytes = await captureStandinImage(bodies).catch((e) => {
    log(`capturing failed (${e.message}); once more`);
    return captureStandinImage(bodies);
  });

  // Built now: it answers the image just captured.
  log("building the static Worker in Rust (scripts/build-worker.sh bench/rust-floor)");
  run("bash", ["scripts/build-worker.sh", "bench/rust-floor"]);

  log(`starting one workerd with the stand-in and the ${WORKERS.length} Workers`);
  let server = await startServer(["standin", ...WORKERS]);
  const results = {};
  let restarts = 0;
  try {
    for (const workload of workloads) {
      log(`${workload.title}: concurrency ${workload.concurrency}`);
      for (;;) {
        try {
          results[workload.id] = await measureWorkload(server, workload, bodies[workload.body], settings);
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

  const { ratios, ratiosPerRound, targets } = judge({ results, own, bundle });
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
      gitCommit,
      gitDirty,
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
  printTable(report, workloads);
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
