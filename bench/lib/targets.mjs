// The performance targets (round 2, issue 14), one table: README.md and BENCHMARKS.md quote it
// rather than copy it. Every target is a ratio inside one run, as the machines the benchmark runs
// on differ too much for absolute figures (the bundle size aside). Each target reads what one run
// measured ({results, own, bundle}) and says whether it was met.

const ratio = (a, b) => Math.round((a / b) * 1000) / 1000;
/** The ratio in each round (the two cells ran minutes apart at most): how much noise moved it. */
const perRound = (a, b) => a.map((x, i) => ratio(x, b[i]));
const spread = (values) => `${Math.min(...values)}-${Math.max(...values)}`;

/** Ours over `baseline` in throughput, with the figures and the spread over rounds. */
const throughput = (cells, baseline) => ({
  value: ratio(cells.gateway.rps, cells[baseline].rps),
  unit: "x",
  detail: `${cells.gateway.rps} vs ${cells[baseline].rps} req/s; rounds ` +
    spread(perRound(cells.gateway.rpsPerRound, cells[baseline].rpsPerRound)),
});

/** Ours over `baseline` in median latency, with the figures and the spread over rounds. */
const latency = (cells, baseline) => ({
  value: ratio(cells.gateway.p50Ms, cells[baseline].p50Ms),
  unit: "x",
  detail: `${cells.gateway.p50Ms} vs ${cells[baseline].p50Ms} ms; rounds ` +
    spread(perRound(cells.gateway.p50MsPerRound, cells[baseline].p50MsPerRound)),
});

/** Our p99 over our p50 on one workload: how long the tail is. */
const tail = (cells, stored) => ({
  value: ratio(cells.gateway.p99Ms, cells.gateway.p50Ms),
  unit: "x",
  detail: `p99 ${cells.gateway.p99Ms} vs p50 ${cells.gateway.p50Ms} ms of ${cells.gateway.requests} requests` +
    (stored ? `; stored (not a target): ${ratio(stored.gateway.p99Ms, stored.gateway.p50Ms)}x ` +
      `(p99 ${stored.gateway.p99Ms} vs p50 ${stored.gateway.p50Ms} ms)` : ""),
});

/** Own work per request in workerd, ours over plain JS's, on one body (bench/workers/ownwork.js). */
const ownWorkRatio = (own, kind) => {
  const d = own?.workerd?.results?.[kind];
  if (!d?.plainjs) return undefined;
  const ours = d.steps.ownWork.mean;
  const plain = d.plainjs.steps.ownWork.mean;
  return {
    value: ratio(ours, plain),
    unit: "x",
    detail: `${ours} vs ${plain} ms, means of ${d.runs} and ${d.plainjs.runs} runs in workerd`,
  };
};

export const TARGETS = [
  {
    target: "1. image_b64: throughput >= 0.5x pass-through",
    measure: ({ results: { b64 } }) => b64 && throughput(b64, "passthrough"),
    met: (v) => v >= 0.5,
  },
  {
    target: "2. cache hits: throughput >= 0.9x the static Rust Worker",
    measure: ({ results: { cache } }) => {
      if (!cache) return undefined;
      const m = throughput(cache, "rustfloor");
      m.detail += `; the static Rust Worker ${ratio(cache.rustfloor.rps, cache.static.rps)}x the static JS one`;
      return m;
    },
    met: (v) => v >= 0.9,
  },
  {
    target: "3a. text p50 <= 1.1x the storing plain JS Worker",
    measure: ({ results: { text } }) => text && latency(text, "plainjs-store"),
    met: (v) => v <= 1.1,
  },
  {
    target: "3b. text no-store p50 <= 1.3x pass-through",
    measure: ({ results: r }) => r["text-nostore"] && latency(r["text-nostore"], "passthrough"),
    met: (v) => v <= 1.3,
  },
  {
    target: "4a. array no-store: p99 <= 5x p50 (ours)",
    measure: ({ results: r }) => r["array-nostore"] && tail(r["array-nostore"], r.array),
    met: (v) => v <= 5,
  },
  {
    target: "4b. image_b64 no-store: p99 <= 5x p50 (ours)",
    measure: ({ results: r }) => r["b64-nostore"] && tail(r["b64-nostore"], r.b64),
    met: (v) => v <= 5,
  },
  {
    // The array body is the heaviest; both are timed in workerd, the engine that runs them.
    target: "5. own work per heavy (array) request <= 0.1x plain JS's (workerd)",
    measure: ({ own }) => ownWorkRatio(own, "array"),
    met: (v) => v <= 0.1,
  },
  {
    // KB read as KiB, the unit wrangler reports and Cloudflare's size limits use.
    target: "6. deploy bundle <= 250 KiB gzip",
    measure: ({ bundle }) =>
      bundle && {
        value: bundle.gzipKiB,
        unit: " KiB gzip",
        detail: `${bundle.totalKiB} KiB raw; the jobs Worker ${bundle.jobs.gzipKiB} KiB gzip`,
      },
    met: (v) => v <= 250,
  },
];

/** The targets a run could judge, and the other ratios worth keeping beside them. */
export function judge({ results: r, own, bundle }) {
  const targets = [];
  for (const t of TARGETS) {
    const m = t.measure({ results: r, own, bundle });
    if (m) targets.push({ target: t.target, value: m.value, measured: `${m.value}${m.unit} (${m.detail})`, met: t.met(m.value) });
  }
  const ratios = {};
  const ratiosPerRound = {};
  const keep = (name, a, b, aRounds, bRounds) => {
    ratios[name] = ratio(a, b);
    if (aRounds && bRounds) ratiosPerRound[name] = perRound(aRounds, bRounds);
  };
  const rps = (name, cells, a, b) => keep(name, cells[a].rps, cells[b].rps, cells[a].rpsPerRound, cells[b].rpsPerRound);
  const p50 = (name, cells, a, b) => keep(name, cells[a].p50Ms, cells[b].p50Ms, cells[a].p50MsPerRound, cells[b].p50MsPerRound);
  if (r.text) {
    p50("textLatencyP50_oursOverPlainjsStore", r.text, "gateway", "plainjs-store");
    // Round 1's target, kept for comparison with older runs.
    p50("textLatencyP50_oursOverPassthrough", r.text, "gateway", "passthrough");
    // What storing costs the JS baseline: the same Worker with and without the tiers.
    p50("textLatencyP50_plainjsStoreOverPlainjs", r.text, "plainjs-store", "plainjs");
    ratios.textLatencyP99_oursOverPlainjsStore = ratio(r.text.gateway.p99Ms, r.text["plainjs-store"].p99Ms);
  }
  if (r["text-nostore"]) {
    p50("textNoStoreLatencyP50_oursOverPassthrough", r["text-nostore"], "gateway", "passthrough");
    p50("textNoStoreLatencyP50_oursOverPlainjs", r["text-nostore"], "gateway", "plainjs");
  }
  for (const id of ["array", "array-nostore", "b64", "b64-nostore"]) {
    const cells = r[id];
    if (!cells) continue;
    const name = id.replace(/-nostore$/, "NoStore");
    rps(`${name}Throughput_oursOverPlainjs`, cells, "gateway", "plainjs");
    rps(`${name}Throughput_oursOverPassthrough`, cells, "gateway", "passthrough");
    ratios[`${name}TailP99OverP50_ours`] = ratio(cells.gateway.p99Ms, cells.gateway.p50Ms);
    ratios[`${name}TailP99OverP50_plainjsStore`] = ratio(cells["plainjs-store"].p99Ms, cells["plainjs-store"].p50Ms);
  }
  if (r.cache) {
    rps("cacheThroughput_oursOverRustStatic", r.cache, "gateway", "rustfloor");
    rps("cacheThroughput_oursOverStatic", r.cache, "gateway", "static");
    rps("cacheThroughput_oursOverPlainjsStore", r.cache, "gateway", "plainjs-store");
    // The floor of any Worker built as ours is (Rust on the worker crate), against the JS one.
    ratios.cacheThroughput_rustStaticOverStatic = ratio(r.cache.rustfloor.rps, r.cache.static.rps);
  }
  for (const kind of ["array", "b64"]) {
    const m = ownWorkRatio(own, kind);
    if (m) ratios[`${kind}OwnWork_oursOverPlainjs_workerd`] = m.value;
  }
  return { ratios, ratiosPerRound, targets };
}
