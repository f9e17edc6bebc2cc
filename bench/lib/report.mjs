// The benchmark's table, ratios and targets, printed.
import { LABEL, WORKERS } from "./workloads.mjs";

export function printTable(report, workloads) {
  const out = [];
  const cols = ["workload", "Worker", "conc.", "req/s", "p50 ms", "p99 ms", "requests", "errors"];
  const rows = [];
  for (const w of workloads) {
    const res = report.workloads[w.id];
    if (!res) continue;
    for (const worker of WORKERS) {
      const s = res.workers[worker];
      if (!s) continue;
      rows.push([w.id, LABEL[worker], w.concurrency, s.rps, s.p50Ms, s.p99Ms, s.requests, s.errors].map(String));
    }
  }
  const width = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
  out.push(line(cols), width.map((n) => "-".repeat(n)).join("  "), ...rows.map(line));
  out.push("", "ratios:");
  for (const [k, v] of Object.entries(report.ratios)) out.push(`  ${k} = ${v}`);
  out.push("", "targets:");
  for (const t of report.targets) out.push(`  [${t.met ? "met " : "MISS"}] ${t.target}: ${t.measured}`);
  const own = report.ownWork?.v8?.results?.array;
  if (own) {
    const g = own.gateway;
    const p = own.plainjs;
    out.push("", `own work per img2img array request (median ms, Wasm/JS in Node's V8; image to JS by ${own.imageToJsPath}):`);
    out.push(`  ours:     body into Wasm ${g.bodyIntoWasm.median}, parse ${g.parse.median}, validate ${g.validate.median}, ` +
             `cache key ${g.key.median}, image to JS as image_b64 ${g.imageToJs.median} = ${g.ownWork.median}` +
             ` (+ RPC serialization ${g.rpcSerialize.median})`);
    out.push(`  (with AI_IMAGE_ENCODING=array the image step is a number array: ${g.imageToJsArray.median}` +
             ` + RPC serialization ${g.rpcSerializeArray.median})`);
    out.push(`  plain JS: JSON.parse ${p.jsonParse.median}, normalize ${p.normalize.median} = ${p.ownWork.median}` +
             ` (+ RPC serialization ${p.rpcSerialize.median})`);
    const d = report.ownWork.workerd?.results?.array;
    if (d) {
      const m = (step) => d.steps[step].mean;
      out.push(`  ours in workerd (mean ms of ${d.runs} runs; image to JS by ${d.imageToJsPath}): body into Wasm ` +
               `${m("bodyIntoWasm")}, parse ${m("parse")}, validate ${m("validate")}, cache key ${m("key")}, ` +
               `image to JS ${m("imageToJs")} = ${m("ownWork")}`);
      if (d.plainjs) {
        const p = (step) => d.plainjs.steps[step].mean;
        out.push(`  plain JS in workerd (mean ms of ${d.plainjs.runs} runs): TextDecoder + JSON.parse ` +
                 `${p("jsonParse")}, normalize ${p("normalize")} = ${p("ownWork")}`);
      }
    }
    const n = report.ownWork.native.array;
    out.push(`  ours natively (x86-64): parse ${n.parse.median}, validate ${n.validate.median}, cache key ${n.key.median} = ${n.total.median}`);
  }
  if (report.bundle) {
    out.push("", `deploy bundle: ${report.bundle.totalKiB} KiB, gzip ${report.bundle.gzipKiB} KiB`);
    if (report.bundle.jobs) {
      const { totalKiB, gzipKiB } = report.bundle.jobs;
      out.push(`  the jobs Worker (jobs.wrangler.toml): ${totalKiB} KiB, gzip ${gzipKiB} KiB`);
    }
    for (const [name, f] of Object.entries(report.bundle.files)) {
      out.push(`  ${name}: ${f.bytes} bytes, gzip -9 ${f.gzipBytes}`);
      for (const [section, x] of Object.entries(f.sections ?? {})) {
        if (x.bytes >= 4096) out.push(`    ${section}: ${x.bytes} bytes, gzip -9 ${x.gzipBytes}`);
      }
    }
  }
  console.log(out.join("\n"));
}

