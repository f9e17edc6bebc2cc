// Caching by the hash of the normalized inputs: the same request never pays for inference twice.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  api,
  BASE,
  REHEARSAL,
  arm,
  dropFromCacheApi,
  fixture,
  generate,
  keyOf,
  PERMALINK,
  permalinkOf,
  runsFor,
  storedAt,
  uniquePrompt,
} from "./helpers.mjs";

const small = { width: 256, height: 256 };

test("a second identical seeded request is a HIT: same bytes, no new run", async () => {
  const prompt = uniquePrompt("cache hit");
  const first = await generate({ prompt, ...small, seed: 11 });
  assert.equal(first.status, 200);
  assert.equal(first.res.headers.get("x-cache"), "MISS");
  const key = keyOf(first.res);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.match(permalinkOf(first.res), PERMALINK);
  assert.equal(permalinkOf(first.res).match(PERMALINK)[1], key);
  assert.equal(first.res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  await storedAt(permalinkOf(first.res));

  const second = await generate({ prompt, ...small, seed: 11 });
  assert.equal(second.res.headers.get("x-cache"), "HIT");
  assert.equal(second.res.headers.get("x-cache-tier"), "memory", "the isolate's own tier first");
  assert.equal(keyOf(second.res), key);
  assert.equal(second.res.headers.get("x-seed"), "11");
  assert.ok(first.bytes.equals(second.bytes));
  assert.equal(await runsFor(prompt), 1);
});

test("another seed, prompt, size, step count or image is a MISS", async () => {
  const prompt = uniquePrompt("cache variants");
  const base = { prompt, ...small, seed: 1 };
  const first = await generate(base);
  await storedAt(permalinkOf(first.res));
  const variants = [
    { ...base, seed: 2 },
    { ...base, prompt: `${prompt} 2` },
    { ...base, width: 264 },
    { ...base, num_steps: 4 },
    { ...base, image: [...fixture("photo-256.png")], strength: 0.5 },
  ];
  const keys = new Set([keyOf(first.res)]);
  for (const body of variants) {
    const r = await generate(body);
    assert.equal(r.status, 200);
    assert.equal(r.res.headers.get("x-cache"), "MISS", JSON.stringify(Object.keys(body)));
    keys.add(keyOf(r.res));
  }
  assert.equal(keys.size, variants.length + 1);
});

test("a seedless request reports its seed; repeating it with that seed is a HIT", async () => {
  const prompt = uniquePrompt("seedless");
  const first = await generate({ prompt, ...small });
  const seed = Number(first.res.headers.get("x-seed"));
  assert.ok(Number.isInteger(seed));
  await storedAt(permalinkOf(first.res));
  const again = await generate({ prompt, ...small, seed });
  assert.equal(again.res.headers.get("x-cache"), "HIT");
  assert.ok(first.bytes.equals(again.bytes));
  assert.equal(await runsFor(prompt), 1);
});

test("image, image_b64 and a data URL of one picture share one key and one run", async () => {
  const prompt = uniquePrompt("cache img2img");
  const picture = fixture("photo-256.png");
  const base = { prompt, ...small, strength: 0.3, seed: 5 };
  const a = await generate({ ...base, image: [...picture] });
  assert.equal(a.res.headers.get("x-cache"), "MISS");
  await storedAt(permalinkOf(a.res));
  const b = await generate({ ...base, image_b64: picture.toString("base64") });
  const c = await generate({ ...base, image_b64: `data:image/png;base64,${picture.toString("base64url")}` });
  for (const r of [b, c]) {
    assert.equal(r.res.headers.get("x-cache"), "HIT");
    assert.equal(keyOf(r.res), keyOf(a.res));
    assert.ok(r.bytes.equals(a.bytes));
  }
  assert.equal(await runsFor(prompt), 1);
});

for (const [behaviour, extra, runs, status] of [
  // Capacity fails the first try and both retries, so the client sees the failure.
  ["capacity", { times: 3 }, 4, 503],
  ["bad_input", {}, 2, 400],
  ["timeout", { delay_ms: 100 }, 2, 504],
  ["cut_short", {}, 2, 502],
  ["truncated", {}, 2, 502],
  ["not_image", {}, 2, 502],
]) {
  test(`an upstream ${behaviour} is not stored; the success after it is`, async () => {
    const prompt = uniquePrompt(`cache fault ${behaviour}`);
    await arm(prompt, behaviour, extra);
    const body = { prompt, ...small, seed: 3 };
    const failed = await generate(body);
    assert.equal(failed.status, status);
    assert.equal(failed.res.headers.get("cache-control"), "no-store");
    const ok = await generate(body);
    assert.equal(ok.status, 200);
    assert.equal(ok.res.headers.get("x-cache"), "MISS", "the failure was not stored");
    await storedAt(permalinkOf(ok.res));
    const hit = await generate(body);
    assert.equal(hit.res.headers.get("x-cache"), "HIT");
    assert.ok(hit.bytes.equals(ok.bytes));
    assert.equal(await runsFor(prompt), runs);
  });
}

test("If-None-Match with the key answers 304 with no body and no run", async () => {
  const prompt = uniquePrompt("etag");
  const first = await generate({ prompt, ...small, seed: 8 });
  const etag = first.res.headers.get("etag");
  const second = await generate({ prompt, ...small, seed: 8 }, { headers: { "if-none-match": etag } });
  assert.equal(second.status, 304);
  assert.equal(second.bytes.length, 0);
  assert.equal(second.res.headers.get("etag"), etag);
  const other = await generate({ prompt, ...small, seed: 9 }, { headers: { "if-none-match": etag } });
  assert.equal(other.status, 200);
  assert.equal(await runsFor(prompt), 2);
});

test("cache-control: no-cache skips the read but stores the fresh result", async () => {
  const prompt = uniquePrompt("no-cache");
  const body = { prompt, ...small, seed: 4 };
  const first = await generate(body);
  await storedAt(permalinkOf(first.res));
  const fresh = await generate(body, { headers: { "cache-control": "no-cache" } });
  assert.equal(fresh.res.headers.get("x-cache"), "MISS");
  assert.equal(await runsFor(prompt), 2);
  const hit = await generate(body);
  assert.equal(hit.res.headers.get("x-cache"), "HIT");
  assert.equal(await runsFor(prompt), 2);
});

test("cache-control: no-store neither reads nor stores", async () => {
  const prompt = uniquePrompt("no-store");
  const body = { prompt, ...small, seed: 4 };
  const bypass = await generate(body, { headers: { "cache-control": "no-store" } });
  assert.equal(bypass.status, 200);
  assert.equal(bypass.res.headers.get("x-cache"), "BYPASS");
  // Not stored: no permalink that would 404, and nothing a cache should keep for a year.
  assert.equal(bypass.res.headers.get("content-location"), null);
  assert.equal(bypass.res.headers.get("cache-control"), "no-store");
  await new Promise((r) => setTimeout(r, 300));
  const next = await generate(body);
  assert.equal(next.res.headers.get("x-cache"), "MISS", "nothing was stored");
  await storedAt(permalinkOf(next.res));
  const bypassAgain = await generate(body, { headers: { "cache-control": "no-store" } });
  assert.equal(bypassAgain.res.headers.get("x-cache"), "BYPASS", "no-store does not read either");
  assert.equal(await runsFor(prompt), 3);
});

test("10 concurrent identical requests share 1 upstream run", async () => {
  const prompt = uniquePrompt("stampede");
  // A slow model, so all ten arrive while the first run is under way.
  await arm(prompt, "slow", { delay_ms: 500 });
  const body = { prompt, width: 1024, height: 1024, seed: 6 };
  const results = await Promise.all(Array.from({ length: 10 }, () => generate(body)));
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.ok(r.bytes.equals(results[0].bytes));
  }
  assert.equal(await runsFor(prompt), 1);
  const statuses = results.map((r) => r.res.headers.get("x-cache")).sort();
  assert.equal(statuses.filter((s) => s === "MISS").length, 1, statuses.join());
});

test("a fresh result goes to R2, not the Cache API: R2 serves the permalink and the POST as a HIT, and its first hit here fills the Cache API", { skip: REHEARSAL && "empties a tier through the local admin route" }, async () => {
  const prompt = uniquePrompt("durable");
  const body = { prompt, ...small, seed: 12 };
  const first = await generate(body);
  const key = keyOf(first.res);
  const link = permalinkOf(first.res);
  await storedAt(link);

  // The memory tier emptied; the Cache API had no copy (R2 is the store of record).
  assert.equal(await dropFromCacheApi(key), false);
  const permalink = await api(`${BASE}${link}`);
  const permalinkBytes = Buffer.from(await permalink.arrayBuffer());
  assert.equal(permalink.status, 200);
  assert.equal(permalink.headers.get("x-cache-tier"), "r2");
  assert.equal(permalink.headers.get("x-seed"), "12");
  assert.equal(permalink.headers.get("content-type"), "image/png");
  assert.ok(permalinkBytes.equals(first.bytes));

  await new Promise((r) => setTimeout(r, 200)); // let the backfill land, then remove it again
  assert.equal((await api(`${BASE}${link}`)).headers.get("x-cache-tier"), "memory");
  assert.equal(await dropFromCacheApi(key), true, "the R2 hit was copied into the Cache API");
  const post = await generate(body);
  assert.equal(post.res.headers.get("x-cache"), "HIT");
  assert.equal(post.res.headers.get("x-cache-tier"), "r2");
  assert.ok(post.bytes.equals(first.bytes));
  assert.equal(await runsFor(prompt), 1);
});

test("GET with a query string is typed and validated like JSON and shares the cache", async () => {
  const prompt = uniquePrompt("get me");
  const post = await generate({ prompt, ...small, seed: 21 });
  await storedAt(permalinkOf(post.res));
  const qs = new URLSearchParams({ prompt, width: "256", height: "256", seed: "21" });
  const res = await api(`${BASE}/?${qs}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-cache"), "HIT");
  assert.equal(keyOf(res), keyOf(post.res));
  assert.ok(bytes.equals(post.bytes));

  const bad = await api(`${BASE}/?prompt=&seed=x&num_steps=21&image=1`);
  assert.equal(bad.status, 400);
  const envelope = await bad.json();
  assert.deepEqual(
    envelope.errors.map((e) => [e.path, e.rule]),
    [
      ["/prompt", "min_length"],
      ["/image", "not_in_query"],
      ["/num_steps", "maximum"],
      ["/seed", "type"],
    ],
  );
});

test("GET /images/<id> for an unknown or malformed id is a 404 in the envelope", async () => {
  for (const key of ["0".repeat(64), `${"0".repeat(64)}-${"0".repeat(32)}`, "not-a-key"]) {
    const res = await api(`${BASE}/images/${key}`);
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.success, false);
    assert.equal(body.errors[0].code, 7000);
  }
});
