// The gateway's own work per request timed inside workerd, the engine that runs the Worker, and
// the plain JS Worker's beside it (its `normalize`, bench/workers/plainjs.js), so the two are
// compared on one engine in one run. Locally (Miniflare, wrangler dev) workerd's clock advances
// while code computes, in whole milliseconds; in production it stands still until I/O, so this
// cannot run there. Hence many runs and the mean: a step's whole-millisecond readings average to
// its duration.
//
// POST a request body to /?seconds=S: answers {runs, imageToJsPath, steps: {step: {median, mean}},
// plainjs: {runs, steps}}, each Worker timed for S seconds (at least 20 runs) after a warm-up.
import benchWasm from "../native/target/wasm32-unknown-unknown/release/sdxl_bench_native.wasm";
import { gatewaySteps, plainjsSteps, summary } from "../lib/own-work-steps.mjs";
import { normalize } from "./plainjs.js";

const WARM_UP_RUNS = 3;
const MIN_RUNS = 20;

/** Runs `once` (answering {times}) for `seconds`, and summarizes each step after the warm-up. */
async function timeSteps(seconds, once) {
  const samples = {};
  let runs = 0;
  let last;
  const started = performance.now();
  while (runs < WARM_UP_RUNS + MIN_RUNS || performance.now() - started < seconds * 1000) {
    last = await once();
    if (runs >= WARM_UP_RUNS) {
      for (const [step, ms] of Object.entries(last.times)) (samples[step] ??= []).push(ms);
    }
    runs += 1;
  }
  const steps = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)]));
  return { runs: runs - WARM_UP_RUNS, steps, last };
}

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
    const ours = await timeSteps(seconds, () => gatewaySteps(w, body, options));
    const plainjs = await timeSteps(seconds, async () => plainjsSteps(normalize, body, options));
    return Response.json({
      runs: ours.runs,
      imageToJsPath: ours.last.imageToJsPath,
      steps: ours.steps,
      plainjs: { runs: plainjs.runs, steps: plainjs.steps },
    });
  },
};
