// A closed-loop HTTP load generator: `concurrency` keep-alive connections, each sending the next
// request as soon as the previous response has been read to its end, for a fixed duration.
// Latency is timed per request with the monotonic high-resolution clock (sub-millisecond), from
// the first byte written to the last byte read.
import http from "node:http";

/**
 * @param {object} o
 * @param {string} o.url
 * @param {Buffer} o.body       request body (POSTed as application/json)
 * @param {object} [o.headers]  extra request headers
 * @param {number} o.concurrency
 * @param {number} o.durationMs
 * @param {(res: http.IncomingMessage, bytes: number) => string|null} [o.check]
 *        answers why a response is wrong, or null; wrong responses count as errors
 * @returns {Promise<{requests: number, errors: number, elapsedMs: number, latenciesMs: number[],
 *          firstError: string|null}>}
 */
export async function runLoad({ url, body, headers = {}, concurrency, durationMs, check }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const options = {
    agent,
    method: "POST",
    host: target.hostname,
    port: target.port,
    path: target.pathname + target.search,
    headers: { "content-type": "application/json", "content-length": body.length, ...headers },
  };
  const latenciesMs = [];
  const handled = new WeakSet();
  let errors = 0;
  let firstError = null;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(durationMs * 1e6));

  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(options, (res) => {
        let bytes = 0;
        res.on("data", (chunk) => {
          bytes += chunk.length;
        });
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const problem = res.statusCode !== 200 ? `HTTP ${res.statusCode}` : check?.(res, bytes) ?? null;
          resolve({ ms, problem });
        });
        res.on("error", (e) => resolve({ ms: 0, problem: String(e) }));
      });
      req.on("error", (e) => resolve({ ms: 0, problem: String(e) }));
      req.on("socket", (socket) => {
        // A reset after the response has ended (a server that answered before reading the body)
        // has no request left to report it on; it is counted by the request that meets it.
        if (!handled.has(socket)) {
          handled.add(socket);
          socket.on("error", () => {});
        }
      });
      req.end(body);
    });

  const loop = async () => {
    while (process.hrtime.bigint() < deadline) {
      const { ms, problem } = await one();
      if (problem) {
        errors += 1;
        firstError ??= problem;
      } else {
        latenciesMs.push(ms);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  agent.destroy();
  return { requests: latenciesMs.length, errors, elapsedMs, latenciesMs, firstError };
}

/** One request, its status, headers and body (for warm-up and probes). */
export function requestOnce(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": body.length, ...headers },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The q-quantile (0..1) of sorted values, nearest-rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
