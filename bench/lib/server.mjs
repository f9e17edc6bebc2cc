// One local workerd (one Miniflare instance) serving the benchmark's Workers side by side, each
// on a socket of its own, all calling the same stand-in through a service binding named `AI`.
//
//   node bench/lib/server.mjs standin passthrough plainjs static gateway
//
// Each name is a wrangler config in bench/config/<name>.toml (or, for experiments, the path of
// another), read with wrangler's own config-to-Miniflare conversion (the one `wrangler dev` and
// vitest-pool-workers use). Every Worker gets a direct socket, so a request reaches its Worker
// with no router Worker and no `wrangler dev` proxy in front (identical for all). Prints one line
// `READY {"name": url, ...}` on stdout when serving; stops on SIGTERM/SIGINT (and, with
// --lifeline, when stdin closes).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const args = process.argv.slice(2);
// With --lifeline, stdin is a pipe from the parent: when it closes (the parent died), stop.
const lifeline = args.includes("--lifeline");
const names = args.filter((a) => !a.startsWith("--"));
if (names.length === 0) {
  console.error("usage: server.mjs <config name>...");
  process.exit(2);
}

// All Workers run on the production configuration's compatibility date and flags.
const production = unstable_readConfig({ config: path.join(root, "wrangler.toml") });

/**
 * Settings for an experiment on our Worker, on top of everything else:
 * `BENCH_GATEWAY_VARS="AI_IMAGE_ENCODING=array,MEMORY_CACHE_BYTES=0"`.
 */
function experimentVars() {
  const pairs = (process.env.BENCH_GATEWAY_VARS ?? "").split(",").filter(Boolean);
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

const workers = names.map((name) => {
  // A name, or (for experiments) the path of another wrangler config.
  const configPath = name.endsWith(".toml")
    ? path.resolve(name)
    : path.join(root, "bench/config", `${name}.toml`);
  const config = unstable_readConfig({ config: configPath });
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(configPath);
  const exposed = config.name !== "bench-standin"; // the stand-in is reached through `AI` only
  // Our build, or another commit's (bench/compare.mjs names those `bench-gateway-at-<rev>`).
  if (config.name === "bench-gateway" || config.name.startsWith("bench-gateway-at-")) {
    // Our Worker runs on the production settings, with the bench config's [vars] on top.
    workerOptions.bindings = { ...production.vars, ...workerOptions.bindings };
    delete workerOptions.bindings.LOCAL_ADMIN;
    // After the delete: the memory section turns the local admin route on this way.
    Object.assign(workerOptions.bindings, experimentVars());
    // The entry module (build/entry.js) imports worker-build's index.js, an ES module: without
    // this rule Miniflare reads an imported .js as CommonJS (wrangler bundles it, so needs none).
    workerOptions.modulesRules = [
      { type: "ESModule", include: ["**/*.js"] },
      ...(workerOptions.modulesRules ?? []),
    ];
  }
  if (config.name === "bench-quota") {
    // The jobs Worker's build, hosting the budget's Durable Object (gateway-budget.toml).
    workerOptions.modulesRules = [{ type: "ESModule", include: ["**/*.js"] }, ...(workerOptions.modulesRules ?? [])];
  }
  return {
    ...workerOptions,
    name: config.name,
    compatibilityDate: production.compatibility_date,
    compatibilityFlags: production.compatibility_flags,
    modules: true,
    modulesRoot: root,
    scriptPath: main,
    unsafeDirectSockets: exposed ? [{ host: "127.0.0.1", port: 0 }] : [],
  };
});

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  cf: false, // offline: no request.cf fetched from the network
  // Development: BENCH_INSPECT=<port> opens the V8 inspector, for CPU profiles of the Workers.
  ...(process.env.BENCH_INSPECT ? { inspectorPort: Number(process.env.BENCH_INSPECT) } : {}),
  log: new Log(LogLevel.WARN),
  // The Workers' console output (our Worker logs a line per request) is read and dropped, so it
  // costs what logging costs in production and does not flood the benchmark's output; workerd's
  // own errors go to stderr.
  handleRuntimeStdio(stdout, stderr) {
    stdout.resume();
    stderr.pipe(process.stderr);
  },
  workers,
});
await mf.ready;

const urls = {};
for (const [i, name] of names.entries()) {
  if (workers[i].unsafeDirectSockets.length > 0) {
    urls[path.basename(name, ".toml")] = (await mf.unsafeGetDirectURL(workers[i].name)).href;
  }
}
process.stdout.write(`READY ${JSON.stringify(urls)}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (lifeline) {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
