// No job stays running for ever: its Durable Object's alarm fails it at its deadline
// (`JOB_DEADLINE_S` after its creation), whatever became of its messages. Against the instance
// tests/e2e/run.mjs starts with `JOB_DEADLINE_S:3`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MODEL, fetchAs, someIp, uniquePrompt } from "./helpers.mjs";

const BASE = process.env.DEADLINE_URL;
const ip = someIp();

test("a job whose images never come is failed at its deadline, with the reason", { skip: !BASE }, async () => {
  const prompt = uniquePrompt("job deadline");
  // Every run of this prompt hangs for 20 s, so each delivery outlasts AI_TIMEOUT_MS (5 s) and is
  // retried later: the job would run for minutes.
  const armed = await fetch(`${BASE}/__standin/arm`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt_contains: prompt, behaviour: "timeout", times: 0, delay_ms: 20_000 }),
  });
  assert.equal(armed.status, 200, await armed.text());
  const created = await fetchAs(ip, "/v1/predictions", {
    method: "POST",
    base: BASE,
    body: { version: MODEL, input: { prompt, width: 256, height: 256 } },
  });
  const job = await created.json();
  assert.equal(created.status, 201, JSON.stringify(job));
  const started = Date.now();
  let seen = job;
  while (!["succeeded", "failed", "canceled"].includes(seen.status) && Date.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 250));
    seen = await (await fetchAs(ip, `/v1/predictions/${job.id}`, { base: BASE })).json();
  }
  assert.equal(seen.status, "failed", JSON.stringify(seen));
  assert.match(seen.error, /did not end within 3 s/);
  assert.ok(Date.now() - started >= 2_000, "not before its deadline");
});
