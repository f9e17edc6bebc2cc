// The memory section of `npm run bench`: what the gateway holds for max-size requests, on a
// freshly started workerd whose stand-in answers one fixed image (so only the gateway's memory
// moves). Reads the gateway's Wasm memory and budget from its local admin route
// (`GET /__admin/memory`) and the workerd process's resident memory from /proc.
//
//   node bench/memory.mjs            # on its own (after a build), prints the table and the JSON
//   node bench/memory.mjs --shape b64 [--worker bench/.cache/builds/gateway@<sha>.toml]
//                                    # the image as `image_b64` (the largest base64 body that fits),
//                                    # of our build or another's; the JSON goes to memory-b64.json
//   node bench/memory.mjs --shape flux2  # FLUX.2 [klein] 4B with four reference images (`images`)
//
// Steps, each scenario on a fresh workerd: one max-size request, then 100 more one after another;
// and 8 max-size requests at once.
// A "max-size request" is an img2img request whose body is an `image` byte array as close to
// MAX_BODY_BYTES as a noise PNG (which does not compress) makes it.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { prng } from "./lib/fixtures.mjs";
import { option } from "./lib/shell.mjs";
import { startServer } from "./lib/start-server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const MIB = 1024 * 1024;
const TOKEN = "bench-token";

/** Noise, which does not compress: the same image on every machine for a side. */
function noisePng(side) {
  const random = prng(side);
  const png = new PNG({ width: side, height: side, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.alloc(side * side * 3);
  for (let i = 0; i < png.data.length; i++) png.data[i] = (random() * 256) | 0;
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 1 });
}

const arrayBody = (png, seed) =>
  Buffer.from(JSON.stringify({ prompt: "memory", seed, strength: 0.5, image: Array.from(png) }));
const base64Body = (png, seed) =>
  Buffer.from(JSON.stringify({ prompt: "memory", seed, strength: 0.5, image_b64: png.toString("base64") }));
/** FLUX.2 [klein] 4B with four reference images (`images`, base64), each the same noise PNG. */
const flux2Body = (png, seed) => {
  const b64 = png.toString("base64");
  return Buffer.from(JSON.stringify({ prompt: "memory", seed, images: [b64, b64, b64, b64] }));
};
/**
 * Request bodies by shape: the route, about how many body bytes each image byte takes, and how
 * many images a body carries.
 */
const SHAPES = {
  array: { body: arrayBody, perByte: 3.6, path: "/", images: 1 },
  b64: { body: base64Body, perByte: 1.34, path: "/", images: 1 },
  flux2: { body: flux2Body, perByte: 4 * 1.34, path: "/ai/run/@cf/black-forest-labs/flux-2-klein-4b", images: 4 },
};

/** The largest noise PNG whose body of `shape` fits in `maxBody` (with room for the seed). */
export function maxSizeImage(maxBody, shape = "array") {
  const { body, perByte } = SHAPES[shape];
  let side = Math.floor(Math.sqrt(maxBody / perByte / 3));
  for (;;) {
    const png = noisePng(side);
    const size = body(png, 4294967295).length;
    if (size <= maxBody) return { png, side, bodyBytes: size };
    side = Math.floor(side * 0.995);
  }
}

/** The workerd process under a server (its child; miniflare starts it). */
function workerdPid(serverPid) {
  const children = readFileSync(`/proc/${serverPid}/task/${serverPid}/children`, "utf8").trim().split(/\s+/);
  for (const pid of children.filter(Boolean)) {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmd.includes("workerd")) return Number(pid);
  }
  throw new Error("no workerd process under the bench server");
}

/** Resident memory now and its high-water mark since the last reset, in bytes. */
function rss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field) => Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))[1]) * 1024;
  return { now: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Resets the high-water mark of resident memory (Linux: "5" to clear_refs). */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Our Worker and the stand-in on a fresh workerd, with the local admin route on. */
async function freshServer(env, worker) {
  const server = await startServer(["standin", worker], {
    env: { ...env, BENCH_GATEWAY_VARS: [env.BENCH_GATEWAY_VARS, "LOCAL_ADMIN=true"].filter(Boolean).join(",") },
  });
  const url = server.urls[path.basename(worker, ".toml")] ?? server.urls.gateway;
  const pid = workerdPid(server.pid);
  // A pooled connection the server has just closed fails once ("other side closed"): ask again.
  const admin = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await (await fetch(`${url}__admin/memory`)).json();
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
  };
  // A small request first, so the fresh isolate's own start-up (module instantiation, first
  // allocations) is not counted against the max-size requests.
  await fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: '{"prompt":"warm","seed":0}' }).then((r) => r.arrayBuffer());
  return { server, url, pid, admin, peakResettable: resetPeak(pid) };
}

export async function measureMemory({
  env = process.env,
  log = () => {},
  sequential: rounds = 100,
  shape = "array",
  worker = "gateway",
} = {}) {
  let seed = 1;
  const sender = (url) => async (png) => {
    const res = await fetch(new URL(SHAPES[shape].path, url), {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: SHAPES[shape].body(png, seed++),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const snapshotter = ({ admin, pid }) => async (label, statuses = []) => {
    const m = await admin();
    const r = rss(pid);
    const counts = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    const row = {
      step: label,
      wasmBytes: m.wasm_memory_bytes,
      rssBytes: r.now,
      rssPeakBytes: r.peak,
      budgetPeakBytes: m.budget.peak_bytes,
      budgetHeldBytes: m.budget.held_bytes,
      refused: m.budget.refused,
      statuses: counts,
    };
    log(`  ${label}: wasm ${(row.wasmBytes / MIB).toFixed(2)} MiB, rss ${(row.rssBytes / MIB).toFixed(1)} MiB (peak ${(row.rssPeakBytes / MIB).toFixed(1)}), statuses ${JSON.stringify(counts)}`);
    return row;
  };

  // (1) One max-size request, then `rounds` more one after another, on a fresh workerd.
  const a = await freshServer(env, worker);
  let image;
  let start;
  const rows = [];
  let sequential = [];
  try {
    start = await a.admin();
    image = maxSizeImage(start.max_body_bytes, shape);
    log(`memory: max-size request = ${image.side}x${image.side} noise PNG, ${(image.png.length / MIB).toFixed(2)} MiB decoded, body ${(image.bodyBytes / MIB).toFixed(2)} MiB of ${(start.max_body_bytes / MIB).toFixed(0)} MiB`);
    const snapshot = snapshotter(a);
    const send = sender(a.url);
    rows.push(await snapshot("fresh workerd, after one small request"));
    rows.push(await snapshot("after 1 max-size request", [await send(image.png)]));
    for (let i = 0; i < rounds; i++) sequential.push(await send(image.png));
    rows.push(await snapshot(`after ${rounds} more, one after another`, sequential));
  } finally {
    await a.server.stop();
  }
  // (2) 8 max-size requests at once, on another fresh workerd.
  const b = await freshServer(env, worker);
  let concurrent;
  try {
    const snapshot = snapshotter(b);
    rows.push(await snapshot("another fresh workerd, after one small request"));
    concurrent = await Promise.all(Array.from({ length: 8 }, () => sender(b.url)(image.png)));
    rows.push(await snapshot("after 8 concurrent max-size requests", concurrent));
  } finally {
    await b.server.stop();
  }
  const [fresh, one, after, freshB, eight] = rows;
  return {
    sequentialRequests: rounds,
    image: {
      side: image.side,
      count: SHAPES[shape].images,
      decodedBytes: image.png.length * SHAPES[shape].images,
      bodyBytes: image.bodyBytes,
    },
    maxBodyBytes: start.max_body_bytes,
    budgetBytes: start.budget.limit_bytes,
    peakResettable: a.peakResettable && b.peakResettable,
    rows,
    checks: {
      // Parsing grows Wasm memory by at most 1.1x the decoded image + 1 MiB.
      oneRequestWasmGrowthBytes: one.wasmBytes - fresh.wasmBytes,
      oneRequestWasmBoundBytes: 1.1 * image.png.length * SHAPES[shape].images + MIB,
      sequentialLeaveWasmWhereOneLeftIt: after.wasmBytes === one.wasmBytes,
      sequentialAllOk: sequential.every((s) => s === 200),
      eightConcurrentRssGrowthBytes: eight.rssPeakBytes - freshB.rssBytes,
      eightConcurrentAllDocumented: concurrent.every((s) => s === 200 || s === 503),
    },
  };
}

export function printMemory(memory) {
  const mib = (b) => `${(b / MIB).toFixed(2)} MiB`;
  const count = memory.image.count ?? 1;
  const images = count > 1 ? `${count} x ${memory.image.side}x${memory.image.side} PNG` : `${memory.image.side}x${memory.image.side} PNG`;
  console.log(`\nMemory (fresh workerd; stand-in answers one fixed image; max-size request: ${images}, ${mib(memory.image.decodedBytes)} decoded, body ${mib(memory.image.bodyBytes)})`);
  console.log("| step | Wasm memory | process RSS | RSS peak | budget peak | statuses |");
  console.log("|---|---|---|---|---|---|");
  for (const r of memory.rows) {
    console.log(`| ${r.step} | ${mib(r.wasmBytes)} | ${mib(r.rssBytes)} | ${mib(r.rssPeakBytes)} | ${mib(r.budgetPeakBytes)} | ${JSON.stringify(r.statuses)} |`);
  }
  const c = memory.checks;
  const mark = (ok) => (ok ? "[met]" : "[MISS]");
  console.log(`${mark(c.oneRequestWasmGrowthBytes <= c.oneRequestWasmBoundBytes)} one max-size request grows Wasm memory by ${mib(c.oneRequestWasmGrowthBytes)} (bound: 1.1 x decoded + 1 MiB = ${mib(c.oneRequestWasmBoundBytes)})`);
  console.log(`${mark(c.sequentialLeaveWasmWhereOneLeftIt && c.sequentialAllOk)} ${memory.sequentialRequests} sequential max-size requests after it leave Wasm memory where one left it (every answer 200)`);
  console.log(`${mark(c.eightConcurrentRssGrowthBytes < 128 * MIB && c.eightConcurrentAllDocumented)} 8 concurrent max-size requests on a fresh workerd: process RSS peak ${mib(c.eightConcurrentRssGrowthBytes)} over its start (bound 128 MiB), every answer 200 or 503`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const shape = option("--shape", "array");
  const worker = option("--worker", "gateway");
  const memory = await measureMemory({ log: (...a) => console.error("[memory]", ...a), shape, worker });
  printMemory(memory);
  const file = shape === "array" && worker === "gateway" ? "memory.json" : `memory-${shape}.json`;
  writeFileSync(path.join(here, "results", file), `${JSON.stringify(memory, null, 2)}\n`);
}
