// Every image model of the family through `/ai/run/<model>`: its own inputs, its real output
// shape turned into image bytes, caching, output negotiation and every input shape.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BASE,
  LOCKED,
  MODEL,
  api,
  decodeJpeg,
  decodePng,
  fixture,
  generate,
  keyOf,
  runsFor,
  someIp,
  statsFor,
  uniquePrompt,
} from "./helpers.mjs";

const photo = [...fixture("photo-256.png")];
const mask = [...fixture("mask-256.png")];

/** Each model, a minimal request it accepts, and what it answers. */
const CASES = [
  { model: MODEL, body: { width: 256, height: 256, seed: 1 }, type: "image/png", size: [256, 256] },
  { model: "@cf/stabilityai/stable-diffusion-xl-base-1.0", body: { width: 256, height: 384, seed: 1 }, type: "image/png", size: [256, 384] },
  { model: "@cf/lykon/dreamshaper-8-lcm", body: { width: 384, height: 256, seed: 1 }, type: "image/png", size: [384, 256] },
  { model: "@cf/runwayml/stable-diffusion-v1-5-img2img", body: { image: photo, strength: 0.5, width: 256, height: 256, seed: 1 }, type: "image/png", size: [256, 256] },
  { model: "@cf/runwayml/stable-diffusion-v1-5-inpainting", body: { image: photo, mask, width: 256, height: 256, seed: 1 }, type: "image/png", size: [256, 256] },
  { model: "@cf/black-forest-labs/flux-1-schnell", body: { steps: 2 }, type: "image/jpeg", size: [1024, 1024] },
  { model: "@cf/leonardo/phoenix-1.0", body: { width: 320, height: 256, seed: 1 }, type: "image/jpeg", size: [320, 256] },
  { model: "@cf/leonardo/lucid-origin", body: { width: 256, height: 320, seed: 1, steps: 10 }, type: "image/jpeg", size: [256, 320] },
  { model: "@cf/black-forest-labs/flux-2-dev", body: { width: 256, height: 320, seed: 1, steps: 4 }, type: "image/jpeg", size: [256, 320] },
  { model: "@cf/black-forest-labs/flux-2-klein-4b", body: { width: 320, height: 256, seed: 1, images: [fixture("photo-256.png").toString("base64")] }, type: "image/jpeg", size: [320, 256] },
  { model: "@cf/black-forest-labs/flux-2-klein-9b", body: { width: 256, height: 256, seed: 1, input_image_0: photo }, type: "image/jpeg", size: [256, 256] },
];

const decode = (type, bytes) => (type === "image/png" ? decodePng(bytes) : decodeJpeg(bytes));

for (const c of CASES) {
  test(`${c.model}: image bytes of the right type and size, then a cache hit`, async () => {
    const prompt = uniquePrompt(`model ${c.model}`);
    const path = `/ai/run/${c.model}`;
    const first = await generate({ prompt, ...c.body }, { path });
    assert.equal(first.status, 200, first.bytes.toString().slice(0, 300));
    assert.equal(first.type, c.type);
    const img = decode(c.type, first.bytes);
    assert.deepEqual([img.width, img.height], c.size);
    assert.equal(first.res.headers.get("x-cache"), "MISS");
    const again = await generate({ prompt, ...c.body }, { path });
    assert.equal(again.res.headers.get("x-cache"), "HIT");
    assert.ok(again.bytes.equals(first.bytes));
    assert.equal(await runsFor(prompt), 1);
  });
}

test("the models route lists every model with its input schema", async () => {
  const res = await api(`${BASE}/models`);
  assert.equal(res.status, 200);
  const { models } = await res.json();
  assert.deepEqual(
    models.map((m) => m.id),
    CASES.map((c) => c.model),
  );
  const flux = models.find((m) => m.id.includes("flux"));
  assert.deepEqual(Object.keys(flux.input_schema.properties), ["prompt", "steps"]);
  assert.equal(flux.input_schema.additionalProperties, false);
  assert.equal(flux.output, "application/json");
  // FLUX.2: the form's fields, the reference images in each encoding, and the images list.
  const klein = models.find((m) => m.id === "@cf/black-forest-labs/flux-2-klein-4b").input_schema;
  for (const name of ["prompt", "images", "input_image_0", "input_image_0_b64", "input_image_3", "seed"]) {
    assert.ok(name in klein.properties, name);
  }
  assert.equal(klein.properties.images.type, "array");
  assert.equal(klein.properties.images.maxItems, 4);
  assert.deepEqual([klein.properties.steps.minimum, klein.properties.steps.maximum], [4, 4]);
});

test("required images are refused before a run, per model", async () => {
  const prompt = uniquePrompt("needs images");
  const { status, bytes } = await generate({ prompt }, { path: "/ai/run/@cf/runwayml/stable-diffusion-v1-5-inpainting" });
  assert.equal(status, 400);
  const body = JSON.parse(bytes);
  assert.deepEqual(
    body.errors.map((e) => [e.code, e.path, e.rule]),
    [
      [5006, "/image", "required"],
      [5006, "/mask", "required"],
    ],
  );
  assert.equal(await runsFor(prompt), 0);
});

test("Accept: application/json answers the envelope with the same image, its seed and type", async () => {
  const prompt = uniquePrompt("negotiated");
  const body = { prompt, width: 256, height: 256, seed: 77 };
  const raw = await generate(body);
  const asJson = await generate(body, { headers: { accept: "application/json" } });
  assert.equal(asJson.status, 200);
  assert.equal(asJson.type, "application/json");
  assert.match(asJson.res.headers.get("vary") ?? "", /accept/i);
  const envelope = JSON.parse(asJson.bytes);
  assert.equal(envelope.success, true);
  assert.deepEqual(envelope.errors, []);
  assert.equal(envelope.result.seed, 77);
  assert.equal(envelope.result.content_type, "image/png");
  assert.ok(Buffer.from(envelope.result.image, "base64").equals(raw.bytes));
  // One run for both representations, told apart by their entity tags.
  assert.equal(await runsFor(prompt), 1);
  const tag = asJson.res.headers.get("etag");
  assert.notEqual(tag, raw.res.headers.get("etag"));
  const held = await generate(body, { headers: { accept: "application/json", "if-none-match": tag } });
  assert.equal(held.status, 304);
  // JSON models too: FLUX's base64 becomes bytes by default, stays JSON when asked.
  const fluxPrompt = uniquePrompt("negotiated flux");
  const flux = await generate({ prompt: fluxPrompt }, { path: "/ai/run/@cf/black-forest-labs/flux-1-schnell", headers: { accept: "application/json" } });
  const fluxEnvelope = JSON.parse(flux.bytes);
  assert.equal(fluxEnvelope.result.content_type, "image/jpeg");
  assert.equal(fluxEnvelope.result.seed, null);
});

test("multipart, url-encoded, query and JSON shapes of one request share inputs and key", async () => {
  const prompt = uniquePrompt("every shape");
  const json = await generate({ prompt, seed: 9, strength: 0.25, image: photo, mask });
  assert.equal(json.status, 200);
  const form = new FormData();
  form.set("prompt", prompt);
  form.set("seed", "9");
  form.set("strength", "0.25");
  form.set("negative_prompt", ""); // an empty input, as browsers send it: absent
  form.set("image", new Blob([fixture("photo-256.png")], { type: "image/png" }), "photo.png");
  form.set("mask", new Blob([fixture("mask-256.png")], { type: "image/png" }), "mask.png");
  const multipart = await api(`${BASE}/`, { method: "POST", body: form });
  assert.equal(multipart.status, 200, await multipart.clone().text());
  assert.equal(keyOf(multipart), keyOf(json.res));
  assert.equal(multipart.headers.get("x-cache"), "HIT");
  assert.ok(Buffer.from(await multipart.arrayBuffer()).equals(json.bytes));
  assert.equal(await runsFor(prompt), 1);

  const scalar = { prompt: uniquePrompt("scalar shapes"), seed: "4", width: "256", height: "256" };
  const byJson = await generate({ ...scalar, seed: 4, width: 256, height: 256 });
  const params = new URLSearchParams(scalar);
  const byForm = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: params.toString(),
  });
  const byQuery = await api(`${BASE}/?${params}`);
  for (const res of [byForm, byQuery]) {
    assert.equal(res.status, 200);
    assert.equal(keyOf(res), keyOf(byJson.res));
    await res.arrayBuffer();
  }
});

test("multipart refusals name the field: an image sent as text, a malformed body", async () => {
  const form = new FormData();
  form.set("prompt", uniquePrompt("bad multipart"));
  form.set("image", "[1,2,3]");
  const res = await api(`${BASE}/`, { method: "POST", body: form });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.deepEqual([body.errors[0].path, body.errors[0].rule], ["/image", "type"]);

  const broken = await api(`${BASE}/`, {
    method: "POST",
    headers: { "content-type": "multipart/form-data; boundary=xyz" },
    body: "--xyz\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nno end",
  });
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).errors[0].code, 3003);
});

test("AI Gateway: with AI_GATEWAY_ID the run carries {gateway: {id, skipCache, metadata}}", { skip: !LOCKED }, async () => {
  const prompt = uniquePrompt("gateway");
  const res = await fetch(`${LOCKED}/ai/run/${MODEL}`, {
    method: "POST",
    headers: { authorization: "Bearer tok-alpha", "content-type": "application/json", "cf-connecting-ip": someIp() },
    body: JSON.stringify({ prompt, width: 256, height: 256, seed: 3 }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const stats = await statsFor(prompt, LOCKED);
  assert.deepEqual(stats.last_options, {
    gateway: { id: "e2e-gateway", skipCache: true, metadata: { cache_key: keyOf(res) } },
  });
  // Without the setting nothing is passed.
  const open = uniquePrompt("no gateway");
  const plain = await generate({ prompt: open, width: 256, height: 256, seed: 3 });
  assert.equal(plain.status, 200);
  const openStats = await statsFor(open);
  assert.equal(openStats.prompt_runs, 1);
  assert.equal(openStats.last_options, undefined);
});
