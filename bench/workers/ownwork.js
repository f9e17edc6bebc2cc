// The gateway's own work per request timed inside workerd, the engine that runs the Worker.
// Locally (Miniflare, wrangler dev) workerd's clock advances while code computes, in whole
// milliseconds; in production it stands still until I/O, so this cannot run there. Hence many
// runs and the mean: a step's whole-millisecond readings average to its duration.
//
// POST a request body to /?seconds=S: answers {runs, imageToJsPath, steps: {step: {median, mean}}}.
import benchWasm from "../native/target/wasm32-unknown-unknown/release/sdxl_bench_native.wasm";
import { gatewaySteps, summary } from "../lib/own-work-steps.mjs";

const WARM_UP_RUNS = 3;

export default {
  async fetch(request) {
    const body = new Uint8Array(await request.arrayBuffer());
    const seconds = Number(new URL(request.url).searchParams.get("seconds") ?? "2");
    const instance = await WebAssembly.instantiate(benchWasm, {});
    const w = instance.exports;
    const options = {
      sha256: (view) => crypto.subtle.digest("SHA-256", view),
      now: () => performance.now(),
      decoder: new TextDecoder(),
    };
    const samples = {};
    let imageToJsPath = "none";
    let runs = 0;
    const started = performance.now();
    while (runs < WARM_UP_RUNS + 20 || performance.now() - started < seconds * 1000) {
      const once = await gatewaySteps(w, body, options);
      imageToJsPath = once.imageToJsPath;
      if (runs >= WARM_UP_RUNS) {
        for (const [step, ms] of Object.entries(once.times)) (samples[step] ??= []).push(ms);
      }
      runs += 1;
    }
    const steps = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)]));
    return Response.json({ runs: runs - WARM_UP_RUNS, imageToJsPath, steps });
  },
};
