// One request's own work in our Worker, step by step as src/generate.rs runs them, on the
// sdxl-core Wasm built by bench/native (a bare C ABI, no wasm-bindgen), and the plain JS Worker's
// own work beside it. Shared by the two places they are timed: Node's V8
// (bench/lib/wasm-timing.mjs) and workerd's (bench/workers/ownwork.js). No imports: it runs in both.

/**
 * Runs the steps once on `body`; answers their durations in ms, and the `image_b64` text handed
 * to AI.run (for the caller's serialization step).
 *
 * `sha256(view)` is the engine's native SHA-256 (WebCrypto in workerd, as src/digest.rs uses it;
 * node:crypto in Node), `now()` a clock in ms, `decoder` a TextDecoder.
 */
export async function gatewaySteps(w, body, { sha256, now, decoder }) {
  const t0 = now();
  const ptr = w.bench_alloc(body.length);
  new Uint8Array(w.memory.buffer, ptr, body.length).set(body);
  const t1 = now();
  if (!w.bench_parse(ptr, body.length)) throw new Error("the body does not parse");
  const t2 = now();
  if (!w.bench_validate()) throw new Error("the body is not valid");
  const t3 = now();
  // The key: the image's SHA-256 natively, the rest in Wasm.
  const len = w.bench_image_len();
  if (len > 0) await sha256(new Uint8Array(w.memory.buffer, w.bench_image_ptr(), len));
  w.bench_key_supplied();
  const t4 = now();
  // AI_IMAGE_ENCODING = "base64" (the default), as src/base64_js.rs `base64_string` does it:
  // the engine's Uint8Array.prototype.toBase64 on a view of Wasm memory where there is one
  // (workerd), else base64 in Wasm and the text decoded into a JS string (wasm-bindgen's way).
  let imageB64;
  let imageToJsPath = "none";
  if (len > 0) {
    const view = new Uint8Array(w.memory.buffer, w.bench_image_ptr(), len);
    if (typeof view.toBase64 === "function") {
      imageB64 = view.toBase64();
      imageToJsPath = "native toBase64";
    } else {
      const textLen = w.bench_image_b64();
      imageB64 = decoder.decode(new Uint8Array(w.memory.buffer, w.bench_b64_ptr(), textLen));
      imageToJsPath = "Wasm base64 + TextDecoder";
    }
  }
  const t5 = now();
  w.bench_free(ptr, body.length);
  return {
    times: {
      bodyIntoWasm: t1 - t0,
      parse: t2 - t1,
      validate: t3 - t2,
      key: t4 - t3,
      imageToJs: t5 - t4,
      ownWork: t5 - t0,
    },
    imageB64,
    imageToJsPath,
    imageLen: len,
  };
}

/**
 * The plain JS Worker's own work on `body` (bench/workers/plainjs.js, `normalize` passed in):
 * the text decoded and parsed, then checked and normalized; answers the durations in ms as
 * [gatewaySteps] does, and the inputs it would hand to AI.run (their serialization is not own
 * work, as ours' is not).
 */
export function plainjsSteps(normalize, body, { now, decoder }) {
  const t0 = now();
  const parsed = JSON.parse(decoder.decode(body));
  const t1 = now();
  const { inputs, errors } = normalize(parsed);
  const t2 = now();
  if (errors.length > 0) throw new Error("plain JS refused the body");
  return { times: { jsonParse: t1 - t0, normalize: t2 - t1, ownWork: t2 - t0 }, inputs };
}

/** Median and mean of a list of milliseconds, to the microsecond. */
export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { median: round(median), mean: round(mean) };
}
const round = (x) => Math.round(x * 1000) / 1000;
