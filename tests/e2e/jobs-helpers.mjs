// Helpers of the jobs tests (docs/jobs.md): predictions over HTTP, polling, a webhook sink,
// and Standard Webhooks verification.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { BASE, fetchAs, someIp } from "./helpers.mjs";

/** The local-only signing secret of `[env.local.vars]` in wrangler.toml. */
export const LOCAL_WEBHOOK_SECRET = "whsec_bG9jYWwtb25seS13ZWJob29rLXNpZ25pbmcta2V5";
export const small = { width: 256, height: 256 };
export const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** One client address per test file: the local rate limit is per address. */
const ip = someIp();
/**
 * Each job's caller (a client address, and in the rehearsal its token): a job is made by a
 * caller of its own and read and canceled by the same one, as a job belongs to the token that
 * made it; so each job's polls count against a rate limit of their own (120 a minute per token
 * in production), not the whole file's.
 */
const callers = new Map();
const jobIn = (path) => path.match(/^\/v1\/predictions\/([0-9a-f]{64})/)?.[1];

export async function call(path, { ip: from, ...opts } = {}) {
  const res = await fetchAs(from ?? callers.get(jobIn(path)) ?? ip, path, opts);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function create(body, opts = {}) {
  const from = someIp();
  const r = await call("/v1/predictions", { method: "POST", body, ip: from, ...opts });
  if (r.json?.id) callers.set(r.json.id, from);
  return r;
}

/** Reads the prediction until it ends (or `timeoutMs` passes). */
export async function settle(id, { timeoutMs = 30_000, headers = {}, base = BASE } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(`/v1/predictions/${id}`, { headers, base });
    assert.equal(r.status, 200, r.text);
    if (["succeeded", "failed", "canceled"].includes(r.json.status)) return r.json;
    if (Date.now() > deadline) throw new Error(`prediction ${id} still ${r.json.status}`);
    await pause(200);
  }
}

/**
 * An HTTP server that records each request and answers with `statuses` in turn (then 200); an
 * entry may be `{ status, headers }`.
 */
export async function webhookSink(statuses = []) {
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const answer = statuses[received.length - 1] ?? 200;
      res.statusCode = typeof answer === "number" ? answer : answer.status;
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  return { url, received, close: () => new Promise((r) => server.close(r)) };
}

/** Whether `delivery` carries a Standard Webhooks signature by `secret` over its body. */
export function verifies(delivery, secret = LOCAL_WEBHOOK_SECRET) {
  const id = delivery.headers["webhook-id"];
  const timestamp = delivery.headers["webhook-timestamp"];
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${delivery.body}`).digest();
  const age = Math.abs(Date.now() / 1000 - Number(timestamp));
  if (!(age < 300)) return false;
  return (delivery.headers["webhook-signature"] ?? "").split(" ").some((entry) => {
    const [version, sig] = entry.split(",");
    const given = Buffer.from(sig ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
