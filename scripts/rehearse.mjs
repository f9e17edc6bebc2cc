// A production rehearsal (`npm run rehearse`; tests/e2e/run.mjs's second phase): serves the
// *production* configurations — the top level of wrangler.toml and of jobs.wrangler.toml, not
// their [env.local] — offline, changing only what cannot run without a Cloudflare account or
// what `wrangler dev` cannot do. Every change is in DEVIATIONS below, printed at start and listed
// in docs/operating.md#the-production-rehearsal; the configs it serves are written under
// .wrangler/rehearsal/ (git-ignored), where they can be read.
//
//   node scripts/rehearse.mjs [--port N]    (or REHEARSAL_PORT=N; default 28787)
//
// Ports: the gateway on N, the jobs Worker on N+1, the stand-in on N+2 (its admin API, as
// `npm start` forwards /__standin/*: arm faults, read counters), their inspectors on N+3..N+5. Secrets: .wrangler/rehearsal/secrets.dev.vars, generated once (keep it, edit it or
// delete it for new ones); the tokens in it are what a client sends. State starts empty each time.
// SKIP_WORKER_BUILD=1 reuses build/, build-jobs/ and emulator/build/ as they are.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DIR = join(root, ".wrangler", "rehearsal");
export const SECRETS = join(DIR, "secrets.dev.vars");

/** The Worker bound as AI in the rehearsal: scripts/rehearse-ai-relay.js, before the stand-in. */
const RELAY = "sdxl-ai-relay";

/** What differs from a deployment of the production configurations, and why. */
export const DEVIATIONS = [
  "AI: the [ai] binding (the real Workers AI, which needs an account and has no local mode) is " +
    `replaced by a service binding AI -> ${RELAY}, served in the same process, which hands each run ` +
    "to the local stand-in (emulator/, as [env.local] binds it) over HTTP: a stream returned by RPC " +
    "across wrangler dev processes is cut short (scripts/rehearse-ai-relay.js).",
  "Secrets: API_TOKENS and PERMALINK_SECRET (both Workers) and WEBHOOK_SECRETS (the jobs Worker) " +
    "come from a generated file, .wrangler/rehearsal/secrets.dev.vars, read by wrangler dev as " +
    ".dev.vars beside each config, instead of `wrangler secret put`.",
  "Processes: each Worker is served by a `wrangler dev` of its own (with the AI relay beside it), connected to the others " +
    "through a dev registry of their own (.wrangler/rehearsal/registry), so that each is the first " +
    "Worker of its session and gets its RATE_LIMITER binding (wrangler dev gives one to the first " +
    "only: cloudflare/workers-sdk#14572), and each has a Cache API of its own, as in production " +
    "(the jobs Worker has no zone: its cache is not the gateway's). Each process's rate limiter " +
    "counts on its own; in production the shared namespace_id shares the counters. The gateway " +
    "reaches the jobs Worker's QuotaObject (QUOTA) and JOBS_WORKER through that registry.",
  "R2: local R2 lives in each process's state folder; the jobs Worker's is a link to the " +
    "gateway's, so both read and write one bucket, as both bind sdxl-images in production.",
  "The jobs Worker answers on a local port of its own (wrangler dev serves the first Worker of a " +
    "session); in production it has no address (workers_dev = false, no routes). Nothing uses it.",
  "Paths in the configs (main, assets, watch_dir) are made absolute: the copies are written " +
    "under .wrangler/rehearsal/.",
];

/** Not rehearsed (no account, no network): said beside the deviations. */
export const NOT_REHEARSED =
  "Not rehearsed: the real Workers AI, Cloudflare's edge (TLS, cf-connecting-ip, a zone's cache), " +
  "Queues', R2's and Durable Objects' real limits and timings, webhook delivery (production takes " +
  "only https to a DNS name, which nothing here can receive; delivery is tested on the local " +
  "instances), and `wrangler deploy` itself (npm test runs its --dry-run).";

/** The top level of a wrangler config: everything before its first [env.*] table. */
export function topLevel(text) {
  const at = text.search(/^\[+env\./m);
  return at < 0 ? text : text.slice(0, at);
}

/**
 * The production top level of `text` as the rehearsal serves it: the [ai] binding replaced by a
 * service binding to the stand-in (when `ai` is true; the stand-in's own config has none), and
 * its paths made absolute under `base`. Throws when the config no longer has the shape this
 * expects, so that a change to it cannot slip past the rehearsal unseen.
 */
export function rehearsalConfig(text, { base, ai = true }) {
  let out = topLevel(text);
  if (ai) {
    const table = /^\[ai\]\nbinding = "AI"\n/m;
    if (!table.test(out)) throw new Error('expected [ai] binding = "AI" at the top level');
    out = out.replace(table, "");
    const standin = `{ binding = "AI", service = "${RELAY}" }`;
    const services = /^services = \[(.*)\]$/m;
    if (services.test(out)) {
      out = out.replace(services, (_, list) => `services = [${list}, ${standin}]`);
    } else {
      // Top-level keys go before the first table.
      const firstTable = out.search(/^\[/m);
      out = `${out.slice(0, firstTable)}services = [${standin}]\n\n${out.slice(firstTable)}`;
    }
  }
  // Paths are read from the config's folder; [build] commands run from where wrangler was
  // started, the repository's root, as for `npm start` and `npm run deploy`.
  for (const key of ["main", "directory", "watch_dir"]) {
    out = out.replace(new RegExp(`^${key} = "(.*)"$`, "m"), (_, p) => `${key} = ${JSON.stringify(join(base, p))}`);
  }
  return out;
}

/** `name=value` lines of a .dev.vars file, as a Map. */
export function readVars(path) {
  const vars = new Map();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && !line.startsWith("#")) vars.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return vars;
}

/** The secrets file, generated when missing: 16 tokens, a permalink secret, a webhook key. */
function secrets() {
  if (!existsSync(SECRETS)) {
    const hex = (n) => randomBytes(n).toString("hex");
    const tokens = Array.from({ length: 16 }, () => `rh-${hex(12)}`);
    writeFileSync(
      SECRETS,
      [
        "# The production rehearsal's secrets (scripts/rehearse.mjs): never deployed, never committed.",
        `API_TOKENS=${tokens.join(",")}`,
        `PERMALINK_SECRET=${hex(32)}`,
        `WEBHOOK_SECRETS=whsec_${randomBytes(32).toString("base64")}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
  }
  return readVars(SECRETS);
}

/** `text` without its top-level `[[r2_buckets]]` tables (rehearsal.test.mjs: a misconfiguration). */
export function withoutR2(text) {
  return text.replace(/^\[\[r2_buckets\]\]\n(?:[a-z_]+ = .*\n)*/gm, "");
}

/** `text` without its top-level `[[queues.producers]]` (rehearsal.test.mjs: a send that fails). */
export function withoutQueueProducer(text) {
  return text.replace(/^\[\[queues\.producers\]\]\n(?:[a-z_]+ = .*\n)*/gm, "");
}

/** Writes the configs, each in a folder of its own with its secrets beside it. */
export function writeConfigs(standinUrl) {
  const vars = secrets();
  const devVars = (names) => names.map((n) => `${n}=${vars.get(n) ?? ""}\n`).join("");
  const workers = {
    gateway: {
      text: rehearsalConfig(readFileSync(join(root, "wrangler.toml"), "utf8"), { base: root }),
      devVars: devVars(["API_TOKENS", "PERMALINK_SECRET"]),
    },
    jobs: {
      text: rehearsalConfig(readFileSync(join(root, "jobs.wrangler.toml"), "utf8"), { base: root }),
      devVars: devVars(["API_TOKENS", "PERMALINK_SECRET", "WEBHOOK_SECRETS"]),
    },
    standin: {
      text: rehearsalConfig(readFileSync(join(root, "emulator", "wrangler.toml"), "utf8"), {
        base: join(root, "emulator"),
        ai: false,
      }),
      devVars: "",
    },
    relay: {
      text: [
        `name = "${RELAY}"`,
        `main = ${JSON.stringify(join(root, "scripts", "rehearse-ai-relay.js"))}`,
        'compatibility_date = "2026-04-26"',
        "",
        "[vars]",
        `STANDIN_URL = ${JSON.stringify(standinUrl)}`,
        "",
      ].join("\n"),
      devVars: "",
    },
  };
  for (const [name, { text, devVars: secretsText }] of Object.entries(workers)) {
    mkdirSync(join(DIR, name), { recursive: true });
    writeFileSync(join(DIR, name, "wrangler.toml"), text);
    writeFileSync(join(DIR, name, ".dev.vars"), secretsText, { mode: 0o600 });
  }
  return { tokens: (vars.get("API_TOKENS") ?? "").split(",").filter(Boolean) };
}

/** Empty state for each process, the jobs Worker's R2 a link to the gateway's. */
function freshState() {
  const state = join(DIR, "state");
  rmSync(state, { recursive: true, force: true });
  mkdirSync(join(state, "gateway", "v3", "r2"), { recursive: true });
  mkdirSync(join(state, "jobs", "v3"), { recursive: true });
  mkdirSync(join(state, "standin"), { recursive: true });
  symlinkSync(join(state, "gateway", "v3", "r2"), join(state, "jobs", "v3", "r2"));
  return state;
}

/** `wrangler dev` of `configs` (the first is served) on 127.0.0.1:`port`, in the caller's process group. */
export function wranglerDev({ configs, port, inspectorPort, persist, registry }) {
  return spawn(
    join(root, "node_modules", ".bin", "wrangler"),
    [
      "dev",
      ...configs.flatMap((c) => ["-c", c]),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--show-interactive-dev-session=false",
      "--persist-to",
      persist,
    ],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_REGISTRY_PATH: registry, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", process.env.REHEARSAL_QUIET ? "ignore" : "inherit", "inherit"],
    },
  );
}

async function until(what, check, deadline, children) {
  while (Date.now() < deadline) {
    const gone = children.find((c) => c.exitCode !== null);
    if (gone) throw new Error(`wrangler dev (${gone.name}) exited with ${gone.exitCode}`);
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`the rehearsal's ${what} did not answer in time`);
}

async function main() {
  const at = process.argv.indexOf("--port");
  const port = Number(at > 0 ? process.argv[at + 1] : (process.env.REHEARSAL_PORT ?? 28787));
  mkdirSync(DIR, { recursive: true });
  const { tokens } = writeConfigs(`http://127.0.0.1:${port + 2}`);
  const state = freshState();
  spawnSync(process.execPath, [join(root, "scripts", "patch-wrangler-proxy.mjs")], { stdio: "inherit" });

  console.log("[rehearsal] serving the production configurations, with these deviations:");
  for (const d of DEVIATIONS) console.log(`[rehearsal]  - ${d}`);
  console.log(`[rehearsal] ${NOT_REHEARSED}`);

  const children = [];
  const stop = () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));

  const serve = (name, offset, withRelay) => {
    const child = wranglerDev({
      configs: [name, ...(withRelay ? ["relay"] : [])].map((c) => join(DIR, c, "wrangler.toml")),
      port: port + offset,
      inspectorPort: port + 3 + offset,
      persist: join(state, name),
      registry: join(DIR, "registry"),
    });
    child.name = name;
    children.push(child);
    return `http://127.0.0.1:${port + offset}`;
  };
  rmSync(join(DIR, "registry"), { recursive: true, force: true });
  const standin = serve("standin", 2, false);
  const jobs = serve("jobs", 1, true);
  const gateway = serve("gateway", 0, true);

  const deadline = Date.now() + 15 * 60 * 1000; // a first run builds the three Workers
  await until("stand-in", async () => (await fetch(`${standin}/__standin/stats`)).status === 200, deadline, children);
  // A prediction route answered by the jobs Worker through the gateway: both up and connected
  // (without a token: the jobs Worker's own 401).
  await until(
    "gateway and jobs Worker",
    async () => (await fetch(`${gateway}/v1/predictions/${"0".repeat(64)}`)).status === 401,
    deadline,
    children,
  );
  console.log(`[rehearsal] ready: gateway ${gateway}, jobs Worker ${jobs}, stand-in ${standin}`);
  console.log(`[rehearsal] tokens (API_TOKENS): ${SECRETS}; e.g. Authorization: Bearer ${tokens[1]}`);
  // Read by tests/e2e/run.mjs.
  console.log(`[rehearsal] ${JSON.stringify({ gateway, jobs, standin, secrets: SECRETS })}`);
  await new Promise((resolve) => children.forEach((c) => c.on("exit", resolve)));
  const gone = children.find((c) => c.exitCode !== null);
  throw new Error(`wrangler dev (${gone?.name}) exited with ${gone?.exitCode}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`[rehearsal] ${e.message}`);
    process.exit(1);
  });
}
