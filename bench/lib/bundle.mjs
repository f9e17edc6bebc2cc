// The production deploy bundle, measured as `npm run deploy` would upload it.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { root, run } from "./shell.mjs";

/**
 * The production deploy bundle, as `npm run deploy` would upload it: `wrangler deploy --dry-run`
 * on wrangler.toml, which also runs its [build] command (worker-build): this is the build of our
 * Worker that the benchmark then serves from build/. The jobs Worker's (jobs.wrangler.toml, the
 * same crate with the jobs surface, which only prediction routes, its queue and its Durable
 * Object load) is reported beside it as `jobs`.
 */
export function deployBundle() {
  const gateway = measure("wrangler.toml");
  const jobs = measure("jobs.wrangler.toml");
  return { ...gateway, jobs: { totalKiB: jobs.totalKiB, gzipKiB: jobs.gzipKiB } };
}

function measure(config) {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "sdxl-bench-bundle-"));
  try {
    const output = run(path.join(root, "node_modules/.bin/wrangler"), [
      "deploy", "--dry-run", "--outdir", outdir, "--config", config,
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

