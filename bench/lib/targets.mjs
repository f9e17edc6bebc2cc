// The performance targets, one table: README.md and BENCHMARKS.md quote it rather than copy it.
// Each target reads what one run measured ({results, own, bundle}) and says whether it was met.

const ratio = (a, b) => Math.round((a / b) * 1000) / 1000;
/** The ratio in each round (the two cells ran minutes apart at most): how much noise moved it. */
const perRound = (a, b) => a.map((x, i) => ratio(x, b[i]));
const spread = (values) => `${Math.min(...values)}-${Math.max(...values)}`;

export const TARGETS = [
  {
    target: "text-only latency (p50) <= 1.05x pass-through",
    measure: ({ results: { text } }) =>
      text && {
        value: ratio(text.gateway.p50Ms, text.passthrough.p50Ms),
        unit: "x",
        detail: `${text.gateway.p50Ms} vs ${text.passthrough.p50Ms} ms; rounds ` +
          spread(perRound(text.gateway.p50MsPerRound, text.passthrough.p50MsPerRound)),
      },
    met: (v) => v <= 1.05,
  },
  {
    target: "img2img array: throughput >= 3x plain JS",
    measure: ({ results: { array } }) =>
      array && {
        value: ratio(array.gateway.rps, array.plainjs.rps),
        unit: "x",
        detail: `${array.gateway.rps} vs ${array.plainjs.rps} req/s; rounds ` +
          spread(perRound(array.gateway.rpsPerRound, array.plainjs.rpsPerRound)),
      },
    met: (v) => v >= 3,
  },
  {
    // Judged where the Worker runs: in workerd (mean of whole-millisecond readings; see
    // bench/workers/ownwork.js). Node's V8 is older and lacks Uint8Array.prototype.toBase64.
    target: "img2img array: < 10 ms of the Worker's own work per request",
    measure: ({ own }) => {
      const mean = own?.workerd?.results?.array?.steps?.ownWork?.mean;
      return mean !== undefined && {
        value: mean,
        unit: " ms",
        detail: `Wasm in workerd, mean of ${own.workerd.results.array.runs} runs; ` +
          `in Node ${process.versions.node}'s V8 ${own.v8.results.array.gateway.ownWork.median} ms; ` +
          `native ${own.native.array.total.median} ms for the Rust part alone`,
      };
    },
    met: (v) => v < 10,
  },
  {
    target: "cache hits: throughput >= 0.9x static",
    measure: ({ results: { cache } }) =>
      cache && {
        value: ratio(cache.gateway.rps, cache.static.rps),
        unit: "x",
        detail: `${cache.gateway.rps} vs ${cache.static.rps} req/s; rounds ` +
          `${spread(perRound(cache.gateway.rpsPerRound, cache.static.rpsPerRound))}; the static Worker in ` +
          `Rust: ${ratio(cache.rustfloor.rps, cache.static.rps)}x static, ours ` +
          `${ratio(cache.gateway.rps, cache.rustfloor.rps)}x it`,
      },
    met: (v) => v >= 0.9,
  },
  {
    // KB read as KiB, the unit wrangler reports and Cloudflare's size limits use.
    target: "deploy bundle <= 250 KiB gzip",
    measure: ({ bundle }) =>
      bundle && { value: bundle.gzipKiB, unit: " KiB gzip", detail: `${bundle.totalKiB} KiB raw` },
    met: (v) => v <= 250,
  },
];

/** The targets a run could judge, and the other ratios worth keeping beside them. */
export function judge({ results: r, own, bundle }) {
  const targets = [];
  for (const t of TARGETS) {
    const m = t.measure({ results: r, own, bundle });
    if (m) targets.push({ target: t.target, measured: `${m.value}${m.unit} (${m.detail})`, met: t.met(m.value) });
  }
  const ratios = {};
  const ratiosPerRound = {};
  if (r.text) {
    ratios.textLatencyP50_oursOverPassthrough = ratio(r.text.gateway.p50Ms, r.text.passthrough.p50Ms);
    ratios.textLatencyP99_oursOverPassthrough = ratio(r.text.gateway.p99Ms, r.text.passthrough.p99Ms);
    ratiosPerRound.textLatencyP50_oursOverPassthrough = perRound(r.text.gateway.p50MsPerRound, r.text.passthrough.p50MsPerRound);
  }
  if (r.array) {
    ratios.arrayThroughput_oursOverPlainjs = ratio(r.array.gateway.rps, r.array.plainjs.rps);
    ratios.arrayThroughput_oursOverPassthrough = ratio(r.array.gateway.rps, r.array.passthrough.rps);
    ratiosPerRound.arrayThroughput_oursOverPlainjs = perRound(r.array.gateway.rpsPerRound, r.array.plainjs.rpsPerRound);
  }
  if (r["text-nostore"]) {
    const t = r["text-nostore"];
    ratios.textNoStoreLatencyP50_oursOverPassthrough = ratio(t.gateway.p50Ms, t.passthrough.p50Ms);
  }
  if (r.b64) ratios.b64Throughput_oursOverPlainjs = ratio(r.b64.gateway.rps, r.b64.plainjs.rps);
  if (r.cache) {
    ratios.cacheThroughput_oursOverStatic = ratio(r.cache.gateway.rps, r.cache.static.rps);
    ratiosPerRound.cacheThroughput_oursOverStatic = perRound(r.cache.gateway.rpsPerRound, r.cache.static.rpsPerRound);
    // The floor of any Worker built as ours is (Rust on the worker crate), against the JS one.
    ratios.cacheThroughput_rustStaticOverStatic = ratio(r.cache.rustfloor.rps, r.cache.static.rps);
    ratios.cacheThroughput_oursOverRustStatic = ratio(r.cache.gateway.rps, r.cache.rustfloor.rps);
  }
  return { ratios, ratiosPerRound, targets };
}
