// The FLUX.2 models through the clients people already use: the `openai` SDK's `images.edit`
// with three reference images, and the AI SDK's `generateImage`. What reached the model is read
// back from the stand-in's ledger (`last_multipart`: the form's field names and each file's
// SHA-256, in order).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { generateImage } from "ai";
import { toFile } from "openai";
import { aiSdkGateway, openaiSdk as sdk } from "./clients.mjs";
import { decodeJpeg, decodePng, noisePngBase64, statsFor, uniquePrompt } from "./helpers.mjs";

const KLEIN = "@cf/black-forest-labs/flux-2-klein-4b";
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** An image's pixel size, whichever format the model answered. */
function sizeOf(bytes) {
  const image = bytes[0] === 0x89 ? decodePng(bytes) : decodeJpeg(bytes);
  return [image.width, image.height];
}

test("openai SDK: images.edit with three images on flux-2-klein-4b sends them, in order, as its references", async () => {
  const images = [noisePngBase64(300, 200), noisePngBase64(256, 256), noisePngBase64(320, 256)].map((b) =>
    Buffer.from(b, "base64"),
  );
  const files = (order) =>
    Promise.all(order.map((i) => toFile(images[i], `reference-${i}.png`, { type: "image/png" })));
  const prompt = uniquePrompt("flux2 openai edit");
  const edit = async (order) =>
    sdk().images.edit({ model: KLEIN, image: await files(order), prompt, size: "512x512", seed: 5 });

  const result = await edit([0, 1, 2]);
  assert.equal(result.data.length, 1);
  const first = Buffer.from(result.data[0].b64_json, "base64");
  assert.deepEqual(sizeOf(first), [512, 512]);
  const sent = (await statsFor(prompt)).last_multipart;
  assert.deepEqual(
    sent.files.map((f) => [f.field, f.sha256]),
    images.map((bytes, i) => [`input_image_${i}`, sha256(bytes)]),
    "each file reached the model under its index, byte for byte",
  );
  assert.ok(sent.boundary, "the form's content type carries its boundary");
  assert.ok(!sent.fields.some((f) => f.endsWith("_b64") || f === "images"), "only the model's own names");

  // The same images in another order are another request: another picture, another run.
  const swapped = Buffer.from((await edit([1, 0, 2])).data[0].b64_json, "base64");
  assert.notDeepEqual(swapped, first);
  assert.equal((await statsFor(prompt)).prompt_runs, 2);
  // The first order again is a cache hit: no third run.
  const again = Buffer.from((await edit([0, 1, 2])).data[0].b64_json, "base64");
  assert.deepEqual(again, first);
  assert.equal((await statsFor(prompt)).prompt_runs, 2);

  // A fifth image is refused by name before anything runs.
  await assert.rejects(
    (async () =>
      sdk().images.edit({ model: KLEIN, image: await files([0, 1, 2, 0, 1]), prompt: `${prompt} five` }))(),
    (e) => e.status === 400 && e.param === "image",
  );
  assert.equal((await statsFor(`${prompt} five`)).prompt_runs, 0);
});

test("AI SDK: generateImage on a FLUX.2 model", async () => {
  const gateway = aiSdkGateway();
  const prompt = uniquePrompt("flux2 ai sdk lighthouse");
  const { images } = await generateImage({
    model: gateway.imageModel("@cf/black-forest-labs/flux-2-dev"),
    prompt,
    size: "640x384",
    providerOptions: { gateway: { seed: 9, steps: 4 } },
    maxRetries: 0,
  });
  assert.equal(images.length, 1);
  assert.deepEqual(sizeOf(Buffer.from(images[0].uint8Array)), [640, 384]);
  const stats = await statsFor(prompt);
  assert.equal(stats.prompt_runs, 1);
  assert.deepEqual(stats.last_multipart.fields, ["prompt", "steps", "width", "height", "seed"]);
});
