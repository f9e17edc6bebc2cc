// A CPU profile of one Worker under one of the benchmark's workloads, taken in workerd through
// its V8 inspector: where the time of a request goes (self time per function, JS and Wasm).
//
//   node bench/profile.mjs [--worker gateway] [--workload array] [--seconds 5] [--out prof.cpuprofile]
//
// Wasm functions are named only if the build kept its name section, which scripts/wasm-opt.sh
// drops; for a profile build with names:
//   WASM_OPT_BIN=node_modules/.bin/wasm-opt bash scripts/build-worker.sh .
// The .cpuprofile file opens in Chrome DevTools (Performance panel) for the call tree.
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import WebSocket from "ws";
import { ensureFixtures } from "./lib/fixtures.mjs";
import { runLoad } from "./lib/load.mjs";
import { env, log, option } from "./lib/shell.mjs";
import { startServer } from "./lib/start-server.mjs";
import { WORKLOADS, headers } from "./lib/workloads.mjs";

// A bench config's name, or the path of a config (bench/compare.mjs writes them for other builds).
const workerConfig = option("--worker", "gateway");
const workerName = path.basename(workerConfig, ".toml");
const workload = WORKLOADS.find((w) => w.id === option("--workload", "array"));
const seconds = Number(option("--seconds", 5));
const top = Number(option("--top", 30));

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** A minimal Chrome DevTools Protocol session over one WebSocket. */
function cdp(url) {
  const ws = new WebSocket(url);
  let next = 1;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      msg.error ? reject(new Error(msg.error.message)) : resolve(msg.result);
    }
  });
  const opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    opened,
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per function name (Wasm functions appear as `<name>` or `wasm-function[n]`). */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byName = new Map();
  for (const [id, n] of hits) {
    const f = byId.get(id).callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url ? f.url.split("/").pop() : ""}`.trim();
    byName.set(name, (byName.get(name) ?? 0) + n);
  }
  const total = profile.samples.length;
  return [...byName].sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ name, share: n / total }));
}

async function main() {
  const port = await freePort();
  const fixtures = ensureFixtures({ log });
  const body = readFileSync(fixtures.files[workload.body]);
  const server = await startServer(["standin", workerConfig], { env: { ...env, BENCH_INSPECT: String(port) } });
  try {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    // The stand-in is the one other Worker.
    if (process.env.BENCH_PROFILE_TARGETS) console.error(targets);
    const target = targets.find((t) => t.id.startsWith("core:user:") && !t.id.includes("standin"));
    if (!target) throw new Error(`no inspector target for ${workerName}: ${JSON.stringify(targets.map((t) => t.title))}`);
    const session = cdp(target.webSocketDebuggerUrl);
    await session.opened;
    const load = (ms) =>
      runLoad({ url: server.urls[workerName], body, headers: { ...headers, ...workload.headers }, concurrency: workload.concurrency, durationMs: ms });
    await load(2000); // warm-up: compiled code and caches, as in the benchmark
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 100 });
    await session.send("Profiler.start");
    const cell = await load(seconds * 1000);
    const { profile } = await session.send("Profiler.stop");
    session.close();
    const out = option("--out");
    if (out) writeFileSync(out, JSON.stringify(profile));
    const rps = (cell.requests / cell.elapsedMs) * 1000;
    console.log(`${workerName} on ${workload.id}: ${cell.requests} requests, ${rps.toFixed(1)} req/s, ${cell.errors} errors`);
    for (const { name, share } of selfTimes(profile).slice(0, top)) {
      console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
    }
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
