// Our Worker against the builds of other commits, side by side in one workerd, on the same
// stand-in and workloads as `npm run bench`: how each change is measured before and after.
//
//   node bench/compare.mjs --before <rev>[,<rev>...] [--workloads array,b64] [--rounds N] [--seconds S]
//                          [--also rustfloor,static]
//   node bench/compare.mjs --before none --also gateway-budget --workloads text,cache
//                          # budgets off (the bench's gateway) and on, same build, side by side
//
// Each commit named is checked out into a git worktree under bench/.cache/worktrees, built there
// with scripts/build-worker.sh (one shared cargo target directory, so dependencies build once),
// and its build copied into bench/.cache/builds/<sha>. The last column is build/ as it is (build
// it first: `bash scripts/build-worker.sh .`); every ratio is over the first commit named. The
// order of the Workers rotates each round. Beside throughput it reports workerd's CPU time per
// request (bench/lib/cpu.mjs), which other work on a shared machine moves far less.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureFixtures, CACHE_DIR } from "./lib/fixtures.mjs";
import { env, log, option, root, run } from "./lib/shell.mjs";
import { cpuMs, workerdPids } from "./lib/cpu.mjs";
import { startServer } from "./lib/start-server.mjs";
import { LABEL, WORKLOADS, measureWorkload } from "./lib/workloads.mjs";

const settings = {
  rounds: Number(option("--rounds") ?? 4),
  secondsPerCell: Number(option("--seconds") ?? 4),
  warmupSeconds: 2,
};
const only = (option("--workloads") ?? "text,array,b64,cache").split(",");
const workloads = WORKLOADS.filter((w) => only.includes(w.id));

/**
 * Builds `rev` once and answers the name of a bench config serving it (`gateway@<short sha>`).
 * A name that is already a directory of bench/.cache/builds (a build made by hand, say with
 * other wasm-opt flags) is served as it is.
 */
function buildOf(rev) {
  const builds = path.join(CACHE_DIR, "builds");
  const prepared = existsSync(path.join(builds, rev, "index.js"));
  const sha = prepared ? rev : run("git", ["rev-parse", "--short", `${rev}^{commit}`]).trim();
  const build = path.join(builds, sha);
  if (!existsSync(path.join(build, "index.js"))) {
    const tree = path.join(CACHE_DIR, "worktrees", sha);
    if (!existsSync(tree)) run("git", ["worktree", "add", "--detach", tree, sha]);
    log(`building ${sha} in ${path.relative(root, tree)} (minutes the first time)`);
    run("bash", [path.join(root, "scripts/build-worker.sh"), "."], { cwd: tree });
    mkdirSync(builds, { recursive: true });
    cpSync(path.join(tree, "build"), build, { recursive: true });
    run("git", ["worktree", "remove", "--force", tree]);
  }
  // Our bench config, pointed at that build (paths relative to the config's directory).
  const config = readFileSync(path.join(root, "bench/config/gateway.toml"), "utf8")
    .replace(/^name = .*$/m, `name = "bench-gateway-at-${sha}"`)
    // Builds since the entry module (src/entry.js) start there; older ones at index.js.
    .replace(/^main = .*$/m, `main = "${sha}/${existsSync(path.join(build, "entry.js")) ? "entry.js" : "index.js"}"`);
  const configPath = path.join(builds, `gateway@${sha}.toml`);
  writeFileSync(configPath, config);
  return { name: `gateway@${sha}`, configPath };
}

async function main() {
  process.env.CARGO_TARGET_DIR ??= path.join(root, "target/compare");
  Object.assign(env, { CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR });
  // `--before none`: only the current build (and `--also` configs of it, such as gateway-budget).
  const before = option("--before") ?? "HEAD~1";
  const builds = before === "none" ? [] : before.split(",").map(buildOf);
  builds.push({ name: "gateway", configPath: "gateway" });
  // Other Workers of the benchmark beside them (`--also rustfloor,static`), for their floor.
  for (const name of option("--also")?.split(",") ?? []) builds.push({ name, configPath: name });
  // The budget's Durable Object lives in the jobs Worker's build (bench/config/quota.toml).
  const hosts = builds.some((b) => b.name === "gateway-budget") ? ["quota"] : [];
  const fixtures = ensureFixtures({ log });
  const bodies = Object.fromEntries(Object.entries(fixtures.files).map(([k, f]) => [k, readFileSync(f)]));
  const workers = builds.map((b) => b.name);
  const server = await startServer(["standin", ...hosts, ...builds.map((b) => b.configPath)], { env });
  const pids = workerdPids(server.pid);
  settings.cpuMs = () => cpuMs(pids);
  const lines = [];
  try {
    for (const workload of workloads) {
      log(`${workload.title}: concurrency ${workload.concurrency}`);
      const r = await measureWorkload(server, workload, bodies[workload.body], settings, workers);
      const base = r[workers[0]];
      for (const w of workers) {
        const a = r[w];
        const perRound = a.rpsPerRound.map((x, i) => (x / base.rpsPerRound[i]).toFixed(3)).join(" ");
        const cpu = a.cpuMsPerRequest == null ? "" : `  workerd CPU ${a.cpuMsPerRequest} ms/request ` +
          `x${(a.cpuMsPerRequest / base.cpuMsPerRequest).toFixed(3)} (rounds ${a.cpuMsPerRequestPerRound.join(" ")})`;
        lines.push(`${workload.id.padEnd(13)} ${(LABEL[w] ?? w).padEnd(16)} ${String(a.rps).padStart(7)} req/s` +
          ` x${(a.rps / base.rps).toFixed(3)} (rounds ${perRound})  p50 ${a.p50Ms} ms  p99 ${a.p99Ms} ms${cpu}`);
      }
    }
  } finally {
    await server.stop();
  }
  console.log(`${settings.rounds} rounds x ${settings.secondsPerCell} s; ratios over ${workers[0]}`);
  for (const l of lines) console.log(l);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
