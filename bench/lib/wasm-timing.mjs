// The Workers' own work per request, timed in Node's V8 (the engine workerd embeds), where
// clocks are real: inside workerd, timers stand still while a request computes (a Spectre
// mitigation), so a Worker cannot time its own CPU work there.
//
//   node bench/lib/wasm-timing.mjs <path to sdxl_bench_native.wasm> [--seconds S] label=body.json...
//
// For the gateway it runs sdxl-core compiled to wasm32 with the Worker's release profile (the
// crate in bench/native), step by step as src/generate.rs does, plus the JS-side copies the Worker
// makes: the body into Wasm memory, and the decoded image out of it as the number array handed to
// AI.run (src/ai_inputs.rs: one Uint8Array copy, then an indexed loop, `numberArray` below). For the plain-JS Worker it runs
// its own `normalize` (bench/workers/plainjs.js) after TextDecoder + JSON.parse. Both then pay
// the same structured-clone serialization of the inputs for the RPC to the model (v8.serialize,
// the serializer workerd's RPC uses), reported on its own.
//
// Prints one JSON object: per body and step, the median and mean milliseconds.
import { readFileSync } from "node:fs";
import { serialize } from "node:v8";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { normalize as plainNormalize } from "../workers/plainjs.js";

/** The same loop as the inline JS in src/ai_inputs.rs. */
function numberArray(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
  return out;
}

const decoder = new TextDecoder();
const now = () => Number(process.hrtime.bigint()) / 1e6;

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { median: round(median), mean: round(mean) };
}
const round = (x) => Math.round(x * 1000) / 1000;

/**
 * Runs each of `iterations` ({name: () => ({step: ms})}) in turn, alternating, for `seconds` after
 * warm-up (so noise on the machine hits them alike); summarises each step of each.
 */
function measure(seconds, iterations) {
  const samples = Object.fromEntries(Object.keys(iterations).map((name) => [name, {}]));
  const started = now();
  let runs = 0;
  while (runs < 8 || now() - started < seconds * 1000) {
    for (const [name, iteration] of Object.entries(iterations)) {
      const times = iteration();
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
    const gateway = () => {
      const t0 = now();
      const ptr = w.bench_alloc(body.length);
      new Uint8Array(w.memory.buffer, ptr, body.length).set(body);
      const t1 = now();
      if (!w.bench_parse(ptr, body.length)) throw new Error(`${label}: the body does not parse`);
      const t2 = now();
      if (!w.bench_validate()) throw new Error(`${label}: the body is not valid`);
      const t3 = now();
      // The key as src/digest.rs makes it: the image's SHA-256 natively (WebCrypto in workerd;
      // Node's createHash, the same native code path, here), the rest in Wasm.
      const len = w.bench_image_len();
      if (len > 0) createHash("sha256").update(new Uint8Array(w.memory.buffer, w.bench_image_ptr(), len)).digest();
      w.bench_key_supplied();
      const t4 = now();
      // AI_IMAGE_ENCODING = "base64" (the default): the image as one string, as wasm-bindgen
      // hands a Rust string to JS.
      let image_b64;
      if (len > 0) {
        const textLen = w.bench_image_b64();
        image_b64 = decoder.decode(new Uint8Array(w.memory.buffer, w.bench_b64_ptr(), textLen));
      }
      const t5 = now();
      const wire = serialize({ prompt: "p", strength: 0.6, image_b64 });
      const t6 = now();
      // AI_IMAGE_ENCODING = "array": a number array (src/ai_inputs.rs), for comparison.
      const image = len > 0
        ? numberArray(new Uint8Array(new Uint8Array(w.memory.buffer, w.bench_image_ptr(), len)))
        : undefined;
      const t7 = now();
      const wireArray = serialize({ prompt: "p", strength: 0.6, image });
      const t8 = now();
      w.bench_free(ptr, body.length);
      if (wire.length === 0 || wireArray.length === 0) throw new Error("unreachable");
      return {
        bodyIntoWasm: t1 - t0,
        parse: t2 - t1,
        validate: t3 - t2,
        key: t4 - t3,
        imageToJs: t5 - t4,
        ownWork: t5 - t0,
        rpcSerialize: t6 - t5,
        imageToJsArray: t7 - t6,
        rpcSerializeArray: t8 - t7,
      };
    };
    const plainjs = () => {
      const t0 = now();
      const text = new TextDecoder().decode(body);
      const parsed = JSON.parse(text);
      const t1 = now();
      const { inputs, errors } = plainNormalize(parsed);
      const t2 = now();
      if (errors.length > 0) throw new Error(`${label}: plain JS refused the body`);
      const wire = serialize(inputs);
      const t3 = now();
      if (wire.length === 0) throw new Error("unreachable");
      return { jsonParse: t1 - t0, normalize: t2 - t1, ownWork: t2 - t0, rpcSerialize: t3 - t2 };
    };
    results[label] = { bodyBytes: body.length, ...measure(seconds, { gateway, plainjs }) };
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
