// The path end to end: prompt → validated → stand-in → streamed image with the right type.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MODEL,
  arm,
  decodeJpeg,
  decodePng,
  differingPixels,
  fixture,
  generate,
  uniquePrompt,
} from "./helpers.mjs";

test("a prompt returns a decodable PNG of the requested size, typed image/png", async () => {
  const { status, type, bytes, res } = await generate({
    prompt: uniquePrompt("a lighthouse"),
    width: 512,
    height: 256,
    seed: 1,
  });
  assert.equal(status, 200);
  assert.equal(type, "image/png");
  const png = decodePng(bytes);
  assert.deepEqual([png.width, png.height], [512, 256]);
  assert.equal(res.headers.get("x-seed"), "1");
  assert.equal(res.headers.get("x-requested-width"), "512");
});

test("the model route answers like POST /", async () => {
  const body = { prompt: uniquePrompt("same route"), width: 256, height: 256, seed: 3 };
  const a = await generate(body);
  const b = await generate(body, { path: `/ai/run/${MODEL}` });
  assert.equal(b.status, 200);
  assert.ok(a.bytes.equals(b.bytes));
});

test("the default size is 1024x1024 and a drawn seed is reported", async () => {
  const { status, bytes, res } = await generate({ prompt: uniquePrompt("default size") });
  assert.equal(status, 200);
  const png = decodePng(bytes);
  assert.deepEqual([png.width, png.height], [1024, 1024]);
  const seed = res.headers.get("x-seed");
  assert.match(seed, /^\d+$/);
  assert.ok(Number(seed) < 2 ** 32);
});

test("sizes off the 8-pixel grid are rounded and the response says so", async () => {
  const { status, bytes, res } = await generate({
    prompt: uniquePrompt("rounded"),
    width: 1023,
    height: 298,
    seed: 5,
  });
  assert.equal(status, 200);
  assert.equal(res.headers.get("x-requested-width"), "1024");
  assert.equal(res.headers.get("x-requested-height"), "296");
  const png = decodePng(bytes);
  assert.deepEqual([png.width, png.height], [1024, 296]);
});

test("JPEG output is served as image/jpeg", async () => {
  const prompt = uniquePrompt("jpeg mode");
  await arm(prompt, "jpeg");
  const { status, type, bytes } = await generate({ prompt, width: 256, height: 384, seed: 2 });
  assert.equal(status, 200);
  assert.equal(type, "image/jpeg");
  const img = decodeJpeg(bytes);
  assert.deepEqual([img.width, img.height], [256, 384]);
});

test("the same seed gives identical bytes; a different seed different ones", async () => {
  const prompt = uniquePrompt("a red fox");
  const body = { prompt, width: 256, height: 256 };
  const a = await generate({ ...body, seed: 42 });
  const b = await generate({ ...body, seed: 42 });
  const c = await generate({ ...body, seed: 43 });
  assert.ok(a.bytes.equals(b.bytes), "same seed, same bytes");
  assert.ok(!a.bytes.equals(c.bytes), "different seed, different bytes");
  assert.ok(differingPixels(decodePng(a.bytes).rgba, decodePng(c.bytes).rgba) > 0.2);
});

test("a seedless request can be reproduced with the seed it reports", async () => {
  const prompt = uniquePrompt("reproduce me");
  const first = await generate({ prompt, width: 256, height: 256 });
  const seed = Number(first.res.headers.get("x-seed"));
  const again = await generate({ prompt, width: 256, height: 256, seed });
  assert.ok(first.bytes.equals(again.bytes));
});

test("image, image_b64 and a data URL of one picture give identical results", async () => {
  const picture = fixture("photo-256.png");
  const base = { prompt: uniquePrompt("img2img"), strength: 0.5, seed: 9, width: 256, height: 256 };
  const b64 = picture.toString("base64");
  const urlSafe = picture.toString("base64url");
  const results = await Promise.all([
    generate({ ...base, image: [...picture] }),
    generate({ ...base, image_b64: b64 }),
    generate({ ...base, image_b64: urlSafe }),
    generate({ ...base, image_b64: `data:image/png;base64,${b64}` }),
  ]);
  for (const r of results) assert.equal(r.status, 200);
  for (const r of results.slice(1)) assert.ok(results[0].bytes.equals(r.bytes));
});

test("strength 0 returns the input picture", async () => {
  const picture = fixture("photo-256.png");
  const { status, bytes } = await generate({
    prompt: uniquePrompt("keep it"),
    image: [...picture],
    strength: 0,
    width: 256,
    height: 256,
    seed: 1,
  });
  assert.equal(status, 200);
  const out = decodePng(bytes);
  const input = decodePng(picture);
  assert.equal(differingPixels(out.rgba, input.rgba), 0);
  // And strength 1 does not.
  const changed = await generate({
    prompt: uniquePrompt("change it"),
    image: [...picture],
    strength: 1,
    width: 256,
    height: 256,
    seed: 1,
  });
  assert.ok(differingPixels(decodePng(changed.bytes).rgba, input.rgba) > 0.2);
});

test("inpainting changes only the pixels under the white part of the mask", async () => {
  const picture = fixture("photo-256.png");
  const mask = fixture("mask-256.png");
  const { status, bytes } = await generate({
    prompt: uniquePrompt("inpaint"),
    image: [...picture],
    mask: [...mask],
    width: 256,
    height: 256,
    seed: 4,
  });
  assert.equal(status, 200);
  const out = decodePng(bytes).rgba;
  const input = decodePng(picture).rgba;
  const m = decodePng(mask).rgba;
  let changedInside = 0;
  for (let i = 0; i < out.length; i += 4) {
    const same = out[i] === input[i] && out[i + 1] === input[i + 1] && out[i + 2] === input[i + 2];
    if (m[i] < 128) assert.ok(same, `pixel ${i / 4} under black changed`);
    else if (!same) changedInside++;
  }
  assert.ok(changedInside > 1000, `only ${changedInside} white-mask pixels changed`);
});

test("fields the model does not have are accepted, dropped and named", async () => {
  const { status, res } = await generate({
    prompt: uniquePrompt("typo"),
    width: 256,
    height: 256,
    seed: 1,
    stpes: 4,
  });
  assert.equal(status, 200);
  assert.equal(res.headers.get("x-ignored-fields"), "stpes");
});
