// The OpenAI Images API, driven by the official `openai` npm package with nothing changed but its
// base URL: generations (n, size, b64_json and url), edits (img2img and an alpha mask), errors as
// the SDK's typed errors, and the model list.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { toFile } from "openai";
import { PNG } from "pngjs";
import { BASE, LOCKED, MODEL, api, decodePng, fixture, someIp, uniquePrompt } from "./helpers.mjs";
import { bytesOf, openaiSdk as sdk } from "./clients.mjs";

test("openai SDK: n=3 gives three distinct images with seeds seed+i, the same three on repeat", async () => {
  const prompt = uniquePrompt("openai lighthouse");
  const ask = () =>
    sdk().images.generate({ prompt, n: 3, size: "512x256", seed: 40, response_format: "b64_json" });
  const first = await ask();
  assert.equal(first.data.length, 3);
  assert.equal(first.output_format, "png");
  assert.equal(first.size, "512x256");
  assert.ok(Math.abs(first.created - Date.now() / 1000) < 120, `created ${first.created}`);
  assert.deepEqual(
    first.data.map((d) => d.seed),
    [40, 41, 42],
  );
  const images = first.data.map(bytesOf);
  for (const image of images) {
    const png = decodePng(image);
    assert.deepEqual([png.width, png.height], [512, 256]);
  }
  assert.equal(new Set(images.map((b) => b.toString("base64"))).size, 3, "three distinct images");
  const again = await ask();
  assert.deepEqual(again.data.map(bytesOf), images, "the same three images on repeat");
  // Image i is the native route's image with seed 40 + i: one cache entry each.
  const native = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, width: 512, height: 256, seed: 41 }),
  });
  assert.equal(native.headers.get("x-cache"), "HIT");
  assert.deepEqual(Buffer.from(await native.arrayBuffer()), images[1]);
});

test("openai SDK: response_format url gives absolute permalinks that serve the same bytes", async () => {
  const prompt = uniquePrompt("openai url");
  const asB64 = await sdk().images.generate({ prompt, n: 2, seed: 9, size: "256x256" });
  const asUrl = await sdk().images.generate({
    prompt,
    n: 2,
    seed: 9,
    size: "256x256",
    response_format: "url",
  });
  assert.equal(asUrl.data.length, 2);
  for (const [i, item] of asUrl.data.entries()) {
    assert.equal(item.b64_json, undefined);
    assert.match(item.url, /^http:\/\/127\.0\.0\.1:\d+\/images\/[0-9a-f]{64}-[0-9a-f]{32}$/);
    const res = await fetch(item.url, { headers: { "cf-connecting-ip": someIp() } });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytesOf(asB64.data[i]));
  }
});

/** An RGB PNG of `width` x `height` with a pattern, so every pixel is worth checking. */
function patternPng(width, height) {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, 255], i * 4);
  }
  return PNG.sync.write(png, { colorType: 2 });
}

/** An OpenAI mask: opaque black, fully transparent inside `square` = [x0, y0, x1, y1). */
function alphaMask(width, height, [x0, y0, x1, y1]) {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= x0 && x < x1 && y >= y0 && y < y1;
      png.data.set([0, 0, 0, inside ? 0 : 255], (y * width + x) * 4);
    }
  }
  return PNG.sync.write(png);
}

test("openai SDK: an edit without a mask is img2img at the input image's size", async () => {
  const prompt = uniquePrompt("openai night");
  const image = await toFile(fixture("photo-256.png"), "photo.png", { type: "image/png" });
  const result = await sdk().images.edit({ image, prompt, seed: 3 });
  assert.equal(result.size, "256x256");
  const out = decodePng(bytesOf(result.data[0]));
  const input = decodePng(fixture("photo-256.png"));
  assert.deepEqual([out.width, out.height], [256, 256]);
  assert.notDeepEqual(out.rgba, input.rgba, "the image was changed");
});

test("openai SDK: an alpha mask repaints only its transparent square", async () => {
  const prompt = uniquePrompt("openai door");
  const [w, h] = [320, 256];
  const square = [64, 48, 160, 128];
  const input = patternPng(w, h);
  const result = await sdk().images.edit({
    image: await toFile(input, "photo.png", { type: "image/png" }),
    mask: await toFile(alphaMask(w, h, square), "mask.png", { type: "image/png" }),
    prompt,
    seed: 11,
  });
  const out = decodePng(bytesOf(result.data[0]));
  const src = decodePng(input);
  assert.deepEqual([out.width, out.height], [w, h]);
  let changedInside = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const at = (y * w + x) * 4;
      const same = [0, 1, 2].every((c) => out.rgba[at + c] === src.rgba[at + c]);
      const inside = x >= square[0] && x < square[2] && y >= square[1] && y < square[3];
      if (inside) changedInside += same ? 0 : 1;
      else assert.ok(same, `pixel (${x}, ${y}) outside the mask changed`);
    }
  }
  const area = (square[2] - square[0]) * (square[3] - square[1]);
  assert.ok(changedInside > area / 2, `only ${changedInside} of ${area} pixels repainted`);
});

test("openai SDK: refusals arrive as typed errors with param", async () => {
  await assert.rejects(
    sdk().images.generate({ prompt: uniquePrompt("bad size"), size: "huge" }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
      assert.equal(e.status, 400);
      assert.equal(e.param, "size");
      assert.equal(e.type, "invalid_request_error");
      assert.match(e.message, /size/);
      return true;
    },
  );
  // Every violation in the message, the first field in param.
  await assert.rejects(
    sdk().images.generate({ prompt: "", n: 9, num_steps: 50 }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, "n");
      assert.match(e.message, /'\/n' must be <= 8.*'\/prompt'.*'\/num_steps' must be <= 20/);
      return true;
    },
  );
  await assert.rejects(
    sdk().images.generate({ prompt: "p", model: "dall-e-3" }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
      assert.equal(e.code, "model_not_found");
      return true;
    },
  );
});

test("openai SDK: models.list and models.retrieve", async () => {
  const ids = [];
  for await (const model of sdk().models.list()) ids.push(model.id);
  assert.ok(ids.includes(MODEL), ids.join(", "));
  const one = await sdk().models.retrieve(MODEL);
  assert.deepEqual(one, {
    id: MODEL,
    object: "model",
    created: 0,
    owned_by: "bytedance",
    planned_deprecation_date: null,
  });
});

test("openai SDK: a wrong key is an AuthenticationError; ignored fields are named", { skip: !LOCKED }, async () => {
  await assert.rejects(sdk(LOCKED, "wrong").models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, e.constructor.name);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
  const { response } = await sdk(LOCKED, "tok-alpha")
    .images.generate({ prompt: uniquePrompt("ignored"), moderation: "low", style: "vivid", size: "256x256" })
    .withResponse();
  assert.equal(response.headers.get("x-ignored-fields"), "moderation, style");
});
