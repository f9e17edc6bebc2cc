// Two phases. Local: starts the gateway exactly as `npm start` does (scripts/serve.sh), plus
// variants of it that differ only in `--var` settings (auth on, ...), waits until they answer,
// runs every end-to-end test against them and a smoke run of the load script, and stops them.
// Rehearsal: serves the production configurations (scripts/rehearse.mjs) and runs the jobs,
// permalink, OpenAI and Replicate client files and rehearsal.test.mjs against it, with its tokens.
// E2E_PHASES=local or E2E_PHASES=rehearsal runs one phase only (default: both).
// Exit code: the tests' (non-zero if either phase failed).
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY_TIMEOUT_MS = 15 * 60 * 1000; // the first run compiles the three Workers

/** The instances: the first is `npm start`'s setup as is; the others reuse its build. */
const INSTANCES = [
  { name: "open", env: "BASE_URL", port: Number(process.env.E2E_PORT ?? 8787), vars: [] },
  {
    name: "locked",
    env: "LOCKED_URL",
    vars: [
      "ALLOW_ANONYMOUS:false",
      "API_TOKENS:tok-alpha,tok-beta",
      "MAX_IMAGE_PIXELS:3000",
      "CORS_ALLOWED_ORIGINS:*",
      "AI_GATEWAY_ID:e2e-gateway",
      "LOCAL_TRAP:false",
    ],
  },
  { name: "closed", env: "CLOSED_URL", vars: ["ALLOW_ANONYMOUS:false", "API_TOKENS:"] },
  // trap.test.mjs traps the Wasm here, away from the other files' requests.
  { name: "trap", env: "TRAP_URL", vars: [] },
  // jobs-lifetime.test.mjs: jobs failed by their object 3 s after creation, deleted 4 s after
  // they ended; at most 4 images queued per caller. budgets.test.mjs: small budgets.
  {
    name: "deadline",
    env: "DEADLINE_URL",
    vars: [
      "JOB_DEADLINE_S:3",
      "JOB_RETENTION_S:4",
      "MAX_QUEUED_IMAGES:4",
      // budgets.test.mjs: the operator's token, which reads any caller's usage.
      "ADMIN_TOKENS:ops-secret",
      // budgets.test.mjs: small budgets for a few client addresses.
      `QUOTAS:${JSON.stringify({
        default: { images_per_day: 1000000, in_flight: 1000 },
        "ip:203.0.113.5": { images_per_day: 5 },
        "ip:203.0.113.6": { images_per_day: 2 },
        "ip:203.0.113.7": { images_per_day: 1 },
        "ip:203.0.113.8": { images_per_day: 3 },
        "ip:203.0.113.9": { images_per_day: 0 },
        "ip:203.0.113.10": { images_per_day: 3 },
        "ip:203.0.113.11": { images_per_day: 3 },
      })}`,
    ],
  },
];

/**
 * The files run against the rehearsal (jobs, permalinks, OpenAI, Replicate's client, its own; the
 * stand-in's FLUX.2, whose form streams over HTTP to the stand-in's process as the relay's do).
 */
const REHEARSAL_FILES = [
  "rehearsal",
  "jobs",
  "jobs-replicate",
  "cache",
  "openai",
  "openai-ai-sdk",
  "openai-fidelity",
  "standin-flux2",
];
const PHASES = (process.env.E2E_PHASES ?? "local,rehearsal").split(",");

const isFree = (port) =>
  new Promise((resolve) => {
    const s = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });

/** The wanted port, unless something (say, `npm start` itself) already holds it. */
async function pickPort(wanted, taken) {
  if (wanted && !taken.has(wanted) && (await isFree(wanted))) return wanted;
  for (let port = 18787; port < 18987; port++) {
    if (!taken.has(port) && (await isFree(port))) return port;
  }
  throw new Error("no free port for an end-to-end server");
}

async function waitUntilServing(base, server) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`wrangler dev exited with ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/__standin/stats`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${base} did not answer within ${READY_TIMEOUT_MS / 1000} s`);
}

const servers = [];
const stopAll = () => {
  for (const s of servers.splice(0)) {
    try {
      process.kill(-s.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
};
process.on("exit", stopAll);
process.on("SIGINT", () => process.exit(130));

function start(instance, port, reuseBuild) {
  // Each instance keeps its local R2/cache state apart, and from `npm start`'s.
  const persist = join(root, ".wrangler", "e2e", instance.name);
  rmSync(persist, { recursive: true, force: true });
  mkdirSync(persist, { recursive: true });
  const args = [join(root, "scripts", "serve.sh"), "--persist-to", persist];
  for (const v of instance.vars) args.push("--var", v);
  const server = spawn("bash", args, {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      WRANGLER_SEND_METRICS: "false",
      ...(reuseBuild ? { SKIP_WORKER_BUILD: "1" } : {}),
    },
    stdio: ["ignore", reuseBuild ? "ignore" : "inherit", "inherit"],
    detached: true,
  });
  servers.push(server);
  return server;
}

const dir = join(root, "tests", "e2e");
// Development: E2E_ONLY=replay,trap runs only the files whose names contain one of those words.
const only = process.env.E2E_ONLY?.split(",").filter(Boolean) ?? [];
const testFiles = (names) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".test.mjs"))
    .filter((f) => !names || names.includes(f.slice(0, -".test.mjs".length)))
    .filter((f) => only.length === 0 || only.some((word) => f.includes(word)))
    .map((f) => join(dir, f));

const exitOf = (child) => new Promise((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
const runTests = (files, env) =>
  exitOf(spawn(process.execPath, ["--test", "--test-reporter=spec", ...files], { cwd: root, env, stdio: "inherit" }));

/** Phase 1: the local instances, every file, the load script's smoke run. */
async function local() {
  const env = { ...process.env };
  const taken = new Set();
  // The first instance builds; the others start once it serves, reusing its build.
  for (const [i, instance] of INSTANCES.entries()) {
    // With E2E_PORT set, the other instances take the ports after it (E2E_PORT+1, ...), so two
    // runs given ports apart stay apart; otherwise the first free port from 18787.
    const next = process.env.E2E_PORT ? Number(process.env.E2E_PORT) + i : undefined;
    const port = await pickPort(instance.port ?? next, taken);
    taken.add(port);
    const base = `http://127.0.0.1:${port}`;
    const server = start(instance, port, i > 0);
    await waitUntilServing(base, server);
    console.log(`[e2e] ${instance.name} gateway serving on ${base}`);
    env[instance.env] = base;
  }
  let code = await runTests(testFiles(null), env);
  if (code === 0) {
    // A smoke run of the load script (the full run, 10,000 requests, is `npm run load`).
    const load = spawn(process.execPath, [join(root, "tests", "load", "load.mjs"), "--requests", "1000"], {
      cwd: root,
      env,
      stdio: "inherit",
    });
    code = await exitOf(load);
  }
  return code;
}

/** Six consecutive free ports (the rehearsal's three Workers and their inspectors). */
async function pickPorts(wanted) {
  for (let base = wanted; base < wanted + 400; base += 10) {
    const all = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => isFree(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error("no free ports for the rehearsal");
}

/** Phase 2: the production rehearsal (scripts/rehearse.mjs) and its files. */
async function rehearsal(reuseBuild) {
  const files = testFiles(REHEARSAL_FILES);
  if (files.length === 0) return 0;
  const port = await pickPorts(Number(process.env.E2E_REHEARSAL_PORT ?? 28787));
  const server = spawn(process.execPath, [join(root, "scripts", "rehearse.mjs"), "--port", String(port)], {
    cwd: root,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      REHEARSAL_QUIET: "1",
      ...(reuseBuild ? { SKIP_WORKER_BUILD: "1" } : {}),
    },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  servers.push(server);
  const ready = await new Promise((resolve, reject) => {
    let text = "";
    server.stdout.on("data", (chunk) => {
      text += chunk;
      const lines = text.split("\n");
      text = lines.pop();
      for (const line of lines) {
        console.log(line);
        const json = line.match(/^\[rehearsal\] (\{.*\})$/);
        if (json) resolve(JSON.parse(json[1]));
      }
    });
    server.on("exit", (c) => reject(new Error(`the rehearsal exited with ${c}`)));
    setTimeout(() => reject(new Error("the rehearsal did not start")), READY_TIMEOUT_MS);
  });
  const { readVars } = await import("../../scripts/rehearse.mjs");
  const env = { ...process.env, SKIP_WORKER_BUILD: "1" };
  for (const instance of INSTANCES) delete env[instance.env];
  Object.assign(env, {
    BASE_URL: ready.gateway,
    STANDIN_URL: ready.standin,
    E2E_REHEARSAL: "1",
    E2E_TOKENS: readVars(ready.secrets).get("API_TOKENS"),
  });
  console.log(`[e2e] rehearsal: the production configurations on ${ready.gateway}`);
  return runTests(files, env);
}

let code = 1;
try {
  const codes = [];
  if (PHASES.includes("local")) {
    codes.push(await local());
    stopAll(); // before the rehearsal starts: two cores
  }
  if (PHASES.includes("rehearsal")) codes.push(await rehearsal(PHASES.includes("local")));
  code = codes.find((c) => c !== 0) ?? 0;
} catch (e) {
  console.error(`[e2e] ${e.message}`);
} finally {
  stopAll();
}
process.exit(code);
