// Starts bench/lib/server.mjs (one workerd with the named Workers) as a child process.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

/** Starts bench/lib/server.mjs with these configs; resolves to {urls, stop, pid}. */
export function startServer(names, { env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [path.join(here, "server.mjs"), "--lifeline", ...names], {
      cwd: root,
      env,
      stdio: ["pipe", "pipe", "inherit"],
    });
    let buffered = "";
    const onData = (chunk) => {
      buffered += chunk;
      const line = buffered.split("\n").find((l) => l.startsWith("READY "));
      if (line) {
        child.stdout.off("data", onData);
        child.stdout.on("data", (c) => process.stderr.write(c)); // workerd's logs, if any
        const server = { urls: JSON.parse(line.slice(6)), gone: null, pid: child.pid };
        let stopping = false;
        child.once("exit", (code, signal) => {
          if (!stopping) server.gone = `the workerd server exited mid-run (code ${code}, signal ${signal})`;
        });
        server.stop = () =>
          new Promise((done) => {
            stopping = true;
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once("exit", done);
            child.kill("SIGTERM");
          });
        resolve(server);
      }
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before it was ready`)));
    process.once("exit", () => child.kill("SIGTERM"));
  });
}

