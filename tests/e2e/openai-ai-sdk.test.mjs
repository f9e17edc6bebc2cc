// The OpenAI Images API through the AI SDK's OpenAI-compatible provider: `generateImage` with
// `n`, `size` and a seed through `providerOptions`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateImage } from "ai";
import { BASE, MODEL, api, decodePng, uniquePrompt } from "./helpers.mjs";
import { aiSdkGateway } from "./clients.mjs";

const gateway = aiSdkGateway();

test("AI SDK: generateImage with n, size and a seed gives n distinct images, the same on repeat", async () => {
  const prompt = uniquePrompt("ai sdk harbour");
  const ask = () =>
    generateImage({
      model: gateway.imageModel(MODEL),
      prompt,
      n: 2,
      size: "384x256",
      providerOptions: { gateway: { seed: 21 } },
      maxRetries: 0,
    });
  const first = await ask();
  assert.equal(first.images.length, 2);
  for (const image of first.images) {
    assert.equal(image.mediaType, "image/png");
    const png = decodePng(Buffer.from(image.uint8Array));
    assert.deepEqual([png.width, png.height], [384, 256]);
  }
  assert.notEqual(first.images[0].base64, first.images[1].base64);
  const again = await ask();
  assert.deepEqual(
    again.images.map((i) => i.base64),
    first.images.map((i) => i.base64),
  );
  // The seed reached the model: image 1 is the one seed 22 makes.
  const native = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, width: 384, height: 256, seed: 22 }),
  });
  assert.equal(Buffer.from(await native.arrayBuffer()).toString("base64"), first.images[1].base64);
});
