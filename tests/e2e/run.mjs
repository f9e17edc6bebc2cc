// Starts the gateway exactly as `npm start` does (scripts/serve.sh), waits until it answers,
// runs every end-to-end test against it, and stops it. Exit code: the tests'.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const READY_TIMEOUT_MS = 15 * 60 * 1000; // the first run compiles both Workers

/** 8787 like `npm start`, unless something (say, `npm start` itself) already holds it. */
async function pickPort() {
  const wanted = Number(process.env.E2E_PORT ?? 8787);
  const free = (port) =>
    new Promise((resolve) => {
      const s = createServer()
        .once("error", () => resolve(false))
        .listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  if (await free(wanted)) return wanted;
  for (let port = 18787; port < 18887; port++) if (await free(port)) return port;
  throw new Error("no free port for the end-to-end server");
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
  throw new Error(`the gateway did not answer within ${READY_TIMEOUT_MS / 1000} s`);
}

const port = await pickPort();
const base = `http://127.0.0.1:${port}`;
const server = spawn("bash", [join(root, "scripts", "serve.sh")], {
  cwd: root,
  env: { ...process.env, PORT: String(port), WRANGLER_SEND_METRICS: "false" },
  stdio: ["ignore", "inherit", "inherit"],
  detached: true,
});
const stop = () => {
  try {
    process.kill(-server.pid, "SIGTERM");
  } catch {
    // already gone
  }
};
process.on("exit", stop);
process.on("SIGINT", () => process.exit(130));

let code = 1;
try {
  await waitUntilServing(base, server);
  console.log(`[e2e] gateway serving on ${base}`);
  const dir = join(root, "tests", "e2e");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".test.mjs"))
    .map((f) => join(dir, f));
  const tests = spawn(process.execPath, ["--test", "--test-reporter=spec", ...files], {
    cwd: root,
    env: { ...process.env, BASE_URL: base },
    stdio: "inherit",
  });
  code = await new Promise((resolve) => tests.on("exit", (c) => resolve(c ?? 1)));
} catch (e) {
  console.error(`[e2e] ${e.message}`);
} finally {
  stop();
}
process.exit(code);
