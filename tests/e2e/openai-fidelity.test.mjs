// What clients of OpenAI's current Images API send, through the official `openai` npm package:
// `stream: true` as server-sent events (generations and edits, n > 1, partial_images), `quality`
// as the model's steps (seen in `usage` and in the cache key the native route shares),
// `background`, `output_compression`, and refusals before the first byte.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { toFile } from "openai";
import { BASE, MODEL, REHEARSAL, api, arm, decodePng, fixture, uniquePrompt } from "./helpers.mjs";
import { bytesOf, openaiSdk as sdk } from "./clients.mjs";

/** The native route's answer for the same image (its cache entry, if the OpenAI one made it). */
const native = (body) =>
  api(`${BASE}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

test("openai SDK: stream: true gives one image_generation.completed event per image", async () => {
  const prompt = uniquePrompt("openai stream");
  const { data: stream, response } = await sdk()
    .images.generate({ prompt, n: 2, size: "256x256", seed: 5, quality: "low", stream: true, partial_images: 2 })
    .withResponse();
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("x-ignored-fields"), "partial_images", "no partial image is sent");
  const events = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(
    events.map((e) => [e.type, e.seed]),
    [
      ["image_generation.completed", 5],
      ["image_generation.completed", 6],
    ],
  );
  for (const event of events) {
    const png = decodePng(bytesOf(event));
    assert.deepEqual([png.width, png.height], [256, 256]);
    assert.equal(event.size, "256x256");
    assert.equal(event.quality, "low");
    assert.equal(event.background, "opaque");
    assert.equal(event.output_format, "png");
    assert.ok(Math.abs(event.created_at - Date.now() / 1000) < 120, `created_at ${event.created_at}`);
    // One 512x512 tile, five steps (low: a quarter of 20).
    assert.deepEqual(event.usage, {
      input_tokens: 0,
      input_tokens_details: { text_tokens: 0, image_tokens: 0 },
      output_tokens: 5,
      total_tokens: 5,
    });
  }
  assert.notDeepEqual(bytesOf(events[0]), bytesOf(events[1]), "two images");
  // The stream went through the pipeline: its second image is the native image, cached.
  const again = await native({ prompt, width: 256, height: 256, seed: 6, num_steps: 5 });
  assert.equal(again.headers.get("x-cache"), "HIT");
  assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytesOf(events[1]));
});

test("openai SDK: an edit streams image_edit.completed", async () => {
  const image = await toFile(fixture("photo-256.png"), "photo.png", { type: "image/png" });
  const stream = await sdk().images.edit({ image, prompt: uniquePrompt("openai stream edit"), stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "image_edit.completed");
  assert.equal(events[0].quality, "auto", "the model's own steps");
  const png = decodePng(bytesOf(events[0]));
  assert.deepEqual([png.width, png.height], [256, 256]);
});

test("openai SDK: quality chooses the steps, visible in usage and the shared cache key", async () => {
  const prompt = uniquePrompt("openai quality");
  const low = await sdk().images.generate({ prompt, size: "512x512", seed: 11, quality: "low" });
  assert.equal(low.quality, "low");
  assert.equal(low.background, "opaque");
  assert.equal(low.usage.output_tokens, 5, "one tile x 5 steps");
  const lowNative = await native({ prompt, width: 512, height: 512, seed: 11, num_steps: 5 });
  assert.equal(lowNative.headers.get("x-cache"), "HIT", "quality low is num_steps 5");
  assert.deepEqual(Buffer.from(await lowNative.arrayBuffer()), bytesOf(low.data[0]));
  // dall-e-3's hd is high: all 20 steps, the table's default.
  const hd = await sdk().images.generate({ prompt, size: "512x512", seed: 11, quality: "hd" });
  assert.equal(hd.quality, "high");
  assert.equal(hd.usage.total_tokens, 20);
  const hdNative = await native({ prompt, width: 512, height: 512, seed: 11 });
  assert.equal(hdNative.headers.get("x-cache"), "HIT", "quality hd is the default 20 steps");
  // The model's own field wins; the quality is named as ignored.
  const { data: own, response } = await sdk()
    .images.generate({ prompt, size: "512x512", seed: 11, quality: "high", num_steps: 5 })
    .withResponse();
  assert.equal(response.headers.get("x-ignored-fields"), "quality");
  assert.equal(own.quality, undefined);
  assert.deepEqual(bytesOf(own.data[0]), bytesOf(low.data[0]));
});

/** `call` fails with the SDK's BadRequestError naming `param`; its message matches `why`. */
async function refused(call, param, why) {
  await assert.rejects(call, (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, param);
    assert.match(e.message, why);
    return true;
  });
}

test("openai SDK: what cannot be honoured is refused by name, streamed or not, before anything runs", async () => {
  const prompt = uniquePrompt("openai refused");
  await refused(sdk().images.generate({ prompt, background: "transparent" }), "background", /opaque images only/);
  await refused(
    sdk().images.generate({ prompt, background: "transparent", stream: true }),
    "background",
    /opaque images only/,
  );
  await refused(
    sdk().images.generate({ prompt, output_format: "png", output_compression: 50 }),
    "output_compression",
    /does not re-encode/,
  );
  await refused(sdk().images.generate({ prompt, quality: "ultra", stream: true }), "quality", /"low"/);
  await refused(sdk().images.generate({ prompt, moderation: "none" }), "moderation", /"auto", "low"/);
  await refused(
    sdk().images.generate({ prompt, stream: true, response_format: "url" }),
    "response_format",
    /b64_json/,
  );
  const ok = await sdk().images.generate({
    prompt,
    size: "256x256",
    background: "opaque",
    output_compression: 100,
    moderation: "low",
    user: "someone",
  });
  assert.equal(ok.data.length, 1);
});

test("openai SDK: a model failure under stream: true is the ordinary error, before the stream", { skip: REHEARSAL }, async () => {
  const prompt = uniquePrompt("openai stream broken");
  await arm(prompt, "not_image", { times: 5 });
  await assert.rejects(
    sdk().images.generate({ prompt, size: "256x256", stream: true }),
    (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, e.constructor.name);
      assert.equal(e.status, 502);
      return true;
    },
  );
});

test("openai SDK: models carry their planned deprecation date (null: none planned)", async () => {
  const models = [];
  for await (const model of sdk().models.list()) models.push(model);
  assert.ok(models.some((m) => m.id === MODEL));
  for (const model of models) assert.ok("planned_deprecation_date" in model, model.id);
});
