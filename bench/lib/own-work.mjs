// The gateway's own work per request, timed natively, in Node's V8 and in workerd.
import { readFileSync } from "node:fs";
import path from "node:path";
import { root, run } from "./shell.mjs";

const here = path.resolve(root, "bench");

/**
 * The gateway's own work per request: natively, as Wasm in Node's V8, and as Wasm in workerd's
 * V8 (bench/workers/ownwork.js), each on the same sdxl-core build.
 */
export async function ownWork(fixtures, { seconds: ownWorkSeconds, startServer }) {
  const manifest = path.join(here, "native/Cargo.toml");
  const kinds = ["array", "b64", "text"];
  const bodies = kinds.map((k) => `${k}=${fixtures.files[k]}`);
  const seconds = String(ownWorkSeconds);
  // Built first through scripts/rustc-probe-retry.sh (a failed probe of rustc is retried once);
  // `cargo run` then only runs, and its stdout is the JSON.
  const cargo = (...args) => run("bash", [path.join(root, "scripts/rustc-probe-retry.sh"), "cargo", ...args]);
  cargo("build", "-q", "--release", "--manifest-path", manifest);
  const native = JSON.parse(run("cargo", ["run", "-q", "--release", "--manifest-path", manifest, "--", "--seconds", seconds, ...bodies]));
  cargo("build", "-q", "--release", "--lib", "--target", "wasm32-unknown-unknown", "--manifest-path", manifest);
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

