// The Workers' own work per request, timed in Node's V8. The same steps are also timed inside
// workerd by bench/workers/ownwork.js (locally its clock is real, but only to the millisecond);
// here clocks are fine-grained, and Node's V8 serializer shows what the RPC to the model costs.
//
//   node bench/lib/wasm-timing.mjs <path to sdxl_bench_native.wasm> [--seconds S] label=body.json...
//
// For the gateway it runs sdxl-core compiled to wasm32 with the Worker's release profile (the
// crate in bench/native), step by step as src/generate.rs does (bench/lib/own-work-steps.mjs),
// plus the JS-side copies the Worker makes. For the plain-JS Worker it runs its own `normalize`
// (bench/workers/plainjs.js) after TextDecoder + JSON.parse. Both then pay the same
// structured-clone serialization of the inputs for the RPC to the model (v8.serialize, the
// serializer workerd's RPC uses), reported on its own.
//
// Prints one JSON object: per body and step, the median and mean milliseconds.
import { readFileSync } from "node:fs";
import { serialize } from "node:v8";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { normalize as plainNormalize } from "../workers/plainjs.js";
import { gatewaySteps, plainjsSteps, summary } from "./own-work-steps.mjs";

/** The same loop as the inline JS in src/ai_inputs.rs. */
function numberArray(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
  return out;
}

const decoder = new TextDecoder();
const now = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * Runs each of `iterations` ({name: () => ({step: ms})}) in turn, alternating, for `seconds` after
 * warm-up (so noise on the machine hits them alike); summarises each step of each.
 */
async function measure(seconds, iterations) {
  const samples = Object.fromEntries(Object.keys(iterations).map((name) => [name, {}]));
  const started = now();
  let runs = 0;
  while (runs < 8 || now() - started < seconds * 1000) {
    for (const [name, iteration] of Object.entries(iterations)) {
      const times = await iteration();
      if (runs >= 3) {
        // The first runs are warm-up: V8 compiles Wasm and JS in tiers.
        for (const [step, ms] of Object.entries(times)) (samples[name][step] ??= []).push(ms);
      }
    }
    runs += 1;
  }
  const out = {};
  for (const [name, steps] of Object.entries(samples)) {
    out[name] = { runs: runs - 3 };
    for (const [step, values] of Object.entries(steps)) out[name][step] = summary(values);
  }
  return out;
}

export async function timeOwnWork({ wasmPath, bodies, seconds = 2 }) {
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
  const w = instance.exports;
  const results = {};
  for (const [label, body] of Object.entries(bodies)) {
    const stepOptions = {
      sha256: (view) => createHash("sha256").update(view).digest(),
      now,
      decoder,
    };
    let imageToJsPath;
    const gateway = async () => {
      const once = await gatewaySteps(w, body, stepOptions);
      imageToJsPath = once.imageToJsPath;
      const t5 = now();
      const wire = serialize({ prompt: "p", strength: 0.6, image_b64: once.imageB64 });
      const t6 = now();
      // AI_IMAGE_ENCODING = "array": a number array (src/ai_inputs.rs), for comparison. The
      // decoded image is still held in Wasm memory (bench_free released only the body).
      const len = once.imageLen;
      const t7a = now();
      const image = len > 0
        ? numberArray(new Uint8Array(new Uint8Array(w.memory.buffer, w.bench_image_ptr(), len)))
        : undefined;
      const t7 = now();
      const wireArray = serialize({ prompt: "p", strength: 0.6, image });
      const t8 = now();
      if (wire.length === 0 || wireArray.length === 0) throw new Error("unreachable");
      return {
        ...once.times,
        rpcSerialize: t6 - t5,
        imageToJsArray: t7 - t7a,
        rpcSerializeArray: t8 - t7,
      };
    };
    const plainjs = () => {
      const once = plainjsSteps(plainNormalize, body, { now, decoder });
      const t2 = now();
      const wire = serialize(once.inputs);
      const t3 = now();
      if (wire.length === 0) throw new Error("unreachable");
      return { ...once.times, rpcSerialize: t3 - t2 };
    };
    const measured = await measure(seconds, { gateway, plainjs });
    results[label] = { bodyBytes: body.length, imageToJsPath, ...measured };
  }
  return { node: process.version, v8: process.versions.v8, results };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [wasmPath, ...rest] = process.argv.slice(2);
  let seconds = 2;
  const bodies = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--seconds") seconds = Number(rest[++i]);
    else {
      const [label, path] = rest[i].split("=");
      bodies[label] = readFileSync(path);
    }
  }
  console.log(JSON.stringify(await timeOwnWork({ wasmPath, bodies, seconds })));
}
