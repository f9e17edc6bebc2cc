// What a newcomer tripped on (issue 13): CORS from a dev server on 127.0.0.1, img2img sized by
// its input image on the gateway's own routes (and not through the REST drop-in), a PNG with a
// damaged body refused before the run, Leonardo sides below what the model takes, and what the
// JS SDK gives for an image model without `.asResponse()`.
import assert from "node:assert/strict";
import { test } from "node:test";
import Cloudflare from "cloudflare";
import { PNG } from "pngjs";
import { BASE, MODEL, api, decodePng, fixture, generate, json, runsFor, someIp, uniquePrompt } from "./helpers.mjs";

/** A grey PNG of `width` x `height`. */
function png(width, height) {
  const img = new PNG({ width, height });
  img.data.fill(128);
  return PNG.sync.write(img);
}

for (const origin of ["http://localhost:5173", "http://127.0.0.1:5173"]) {
  test(`CORS: a dev server at ${origin} is allowed locally`, async () => {
    const res = await api(`${BASE}/`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
  });
}

test("own routes: img2img without width/height answers the input image's size, rounded to 8", async () => {
  const image_b64 = png(803, 605).toString("base64");
  for (const path of ["/", `/ai/run/${MODEL}`]) {
    const r = await generate({ prompt: uniquePrompt("sized by input"), image_b64, strength: 0.5, seed: 3 }, { path });
    assert.equal(r.status, 200, r.bytes.toString());
    assert.equal(r.res.headers.get("x-requested-width"), "800");
    assert.equal(r.res.headers.get("x-requested-height"), "608");
    const out = decodePng(r.bytes);
    assert.deepEqual([out.width, out.height], [800, 608]);
  }
});

test("REST drop-in: img2img without width/height forwards no size (the model's own 1024x1024)", async () => {
  const image_b64 = png(803, 605).toString("base64");
  const r = await generate(
    { prompt: uniquePrompt("rest sized"), image_b64, strength: 0.5, seed: 3 },
    { path: `/client/v4/accounts/any/ai/run/${MODEL}` },
  );
  assert.equal(r.status, 200, r.bytes.toString());
  assert.equal(r.res.headers.get("x-requested-width"), null);
  const out = decodePng(r.bytes);
  assert.deepEqual([out.width, out.height], [1024, 1024]);
});

test("a PNG whose body is damaged (header and end intact) is refused before the run, with a path", async () => {
  const prompt = uniquePrompt("corrupt png");
  const r = await generate({ prompt, image_b64: fixture("photo-64x48-corrupt.png").toString("base64") });
  assert.equal(r.status, 400);
  const body = await json(r.res, r.bytes);
  assert.equal(body.errors.length, 1);
  assert.equal(body.errors[0].code, 5006);
  assert.equal(body.errors[0].path, "/image_b64");
  assert.equal(body.errors[0].rule, "image");
  assert.match(body.errors[0].message, /'IDAT' chunk .* CRC/);
  assert.equal(await runsFor(prompt), 0, "no model run");
});

test("Phoenix and Lucid Origin refuse sides below 256 (their schemas' 0 is no image)", async () => {
  for (const model of ["@cf/leonardo/phoenix-1.0", "@cf/leonardo/lucid-origin"]) {
    const r = await generate({ prompt: uniquePrompt("tiny"), width: 0, height: 64 }, { path: `/ai/run/${model}` });
    assert.equal(r.status, 400, model);
    const body = await json(r.res, r.bytes);
    assert.deepEqual(
      body.errors.map((e) => [e.path, e.rule, e.limit]),
      [
        ["/height", "minimum", 256],
        ["/width", "minimum", 256],
      ],
    );
  }
});

test("JS SDK: an image-stream model without .asResponse() gives undefined, not text", async () => {
  const client = new Cloudflare({
    apiToken: "any",
    baseURL: `${BASE}/client/v4`,
    maxRetries: 0,
    defaultHeaders: { "cf-connecting-ip": someIp() },
  });
  const result = await client.ai.run(MODEL, { account_id: "any", prompt: uniquePrompt("sdk undefined"), seed: 1 });
  assert.equal(result, undefined);
});
