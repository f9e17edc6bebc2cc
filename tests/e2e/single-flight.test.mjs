// One model run per key in flight: concurrent identical requests share one lookup and one run,
// whenever in the run they arrive (before it, during its lookup, as it finishes, while it is
// being stored).
import assert from "node:assert/strict";
import { test } from "node:test";
import { arm, generate, statsFor, uniquePrompt } from "./helpers.mjs";

const ROUNDS = 20;
/** Arrivals are spread over this many milliseconds: about one cache lookup and one run. */
const SPREAD_MS = 10;
const small = { width: 256, height: 256 };
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

for (const concurrency of [12, 32]) {
  test(`${concurrency} concurrent identical new requests make exactly 1 model run, ${ROUNDS} rounds`, async () => {
    const runsPerRound = [];
    for (let round = 0; round < ROUNDS; round++) {
      const prompt = uniquePrompt(`single flight ${concurrency}`);
      const body = { prompt, ...small, seed: round };
      // The stand-in answers in a few milliseconds, about as long as a cache lookup, so
      // requests spread over that time arrive before, during and just after the first run:
      // the old order (tiers read before the run was joined, the run dropped before it was
      // stored) made a second run in about one round in ten here.
      const results = await Promise.all(
        Array.from({ length: concurrency }, async (_, i) => {
          if (i > 0) await pause((SPREAD_MS * i) / concurrency);
          return generate(body);
        }),
      );
      for (const r of results) {
        assert.equal(r.status, 200, r.bytes.toString().slice(0, 200));
        assert.ok(r.bytes.equals(results[0].bytes), "every request got the same image");
      }
      runsPerRound.push((await statsFor(prompt)).prompt_runs);
    }
    assert.deepEqual(runsPerRound, Array(ROUNDS).fill(1), `model runs per round: ${runsPerRound}`);
  });
}

test("a slow run is shared too, and a request after it is a plain HIT", async () => {
  const prompt = uniquePrompt("single flight slow");
  await arm(prompt, "slow", { delay_ms: 400 });
  const body = { prompt, ...small, seed: 1 };
  const results = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      await pause(i * 30);
      return generate(body);
    }),
  );
  const tiers = results.map((r) => r.res.headers.get("x-cache-tier") ?? r.res.headers.get("x-cache"));
  assert.equal(tiers.filter((t) => t === "MISS").length, 1, tiers.join());
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
  const after = await generate(body);
  assert.equal(after.res.headers.get("x-cache"), "HIT");
  assert.equal((await statsFor(prompt)).prompt_runs, 1);
});

test("when the leading request's client goes away, a waiting request still gets the image", async () => {
  const prompt = uniquePrompt("single flight abandoned");
  await arm(prompt, "slow", { delay_ms: 1500 });
  const body = { prompt, ...small, seed: 2 };
  const leaving = new AbortController();
  const leader = generate(body, { signal: leaving.signal }).catch((e) => e);
  await pause(150);
  const follower = generate(body);
  await pause(150);
  leaving.abort();
  assert.ok((await leader) instanceof Error, "the first client gave up");
  const answered = await follower;
  assert.equal(answered.status, 200);
  const runs = (await statsFor(prompt)).prompt_runs;
  // 1 if the runtime let the abandoned run finish (the follower then shares it), 2 if it
  // cancelled it (the follower then ran the model itself); never none, never a hang.
  assert.ok(runs === 1 || runs === 2, `runs: ${runs}`);
  console.log(`abandoned leader: ${runs} run(s), follower x-cache ${answered.res.headers.get("x-cache")}`);
});
