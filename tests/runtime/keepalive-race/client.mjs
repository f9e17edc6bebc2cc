// Keeps `concurrency` small POSTs in flight against `wrangler dev` for `seconds`, each asking the
// Worker to spend `busy` ms of CPU, and counts the answers that did not come from the Worker (the
// runtime's 500 "Network connection lost.", or 503 "Your worker restarted mid-request").
//
//   node client.mjs [base URL] [seconds] [concurrency] [busy ms]
const base = process.argv[2] ?? "http://127.0.0.1:8898/";
const seconds = Number(process.argv[3] ?? 60);
const concurrency = Number(process.argv[4] ?? 64);
const busy = Number(process.argv[5] ?? 5);

const until = Date.now() + seconds * 1000;
let sent = 0;
const lost = [];
async function loop() {
  while (Date.now() < until) {
    const id = `r${sent++}`;
    try {
      const res = await fetch(`${base}?busy=${busy}`, { method: "POST", headers: { "x-id": id }, body: "{}" });
      const text = await res.text();
      if (!(res.status === 200 && text.startsWith("ok "))) lost.push(`${id}: ${res.status} ${text.split("\n")[0]}`);
    } catch (e) {
      lost.push(`${id}: ${e.cause?.code ?? e.message}`);
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
for (const line of lost.slice(0, 10)) console.log(line);
console.log(`${lost.length} of ${sent} requests never reached the Worker`);
process.exit(lost.length === 0 ? 0 : 1);
