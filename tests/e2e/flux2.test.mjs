// The FLUX.2 models through every door: the native routes (multipart uploads, JSON with byte
// arrays, base64 fields or an `images` list), the REST drop-in's multipart body and v4 envelope,
// a job with reference images. The model is sent a multipart form (`{multipart: {body,
// contentType}}`), whatever the request's shape; refusals come before any run (the stand-in's
// ledger counts runs), and the cache key covers each reference image and its order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BASE, credentialsFor, fixture, keyOf, noisePngBase64, runsFor, someIp, uniquePrompt } from "./helpers.mjs";
import { create } from "./jobs-helpers.mjs";

const KLEIN = "@cf/black-forest-labs/flux-2-klein-4b";
const NATIVE = `/ai/run/${KLEIN}`;
const REST = `/client/v4/accounts/any/ai/run/${KLEIN}`;
const png = fixture("photo-256.png");
const jpeg = fixture("photo-64x48.jpg");
const webp = fixture("photo-64x48.webp");
const b64 = (bytes) => bytes.toString("base64");
const dataUrl = (bytes, type) => `data:${type};base64,${b64(bytes)}`;
const small = { width: 256, height: 256 };

/** The magic numbers of the image formats a model answers. */
function formatOf(bytes) {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes.subarray(0, 4).toString() === "RIFF" && bytes.subarray(8, 12).toString() === "WEBP") return "image/webp";
  return null;
}

/** POSTs `body` (a FormData, or an object sent as JSON) to `path`. */
async function post(path, body, headers = {}) {
  const form = body instanceof FormData;
  const ip = someIp();
  const res = await fetch(`${BASE}${path}`, {
    method: "POST",
    headers: {
      "cf-connecting-ip": ip,
      ...credentialsFor(ip),
      ...(form ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: form ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes, status: res.status, type: res.headers.get("content-type") };
}

/** A form as `curl -F` sends it: text fields, then files. */
function formOf(fields, files = []) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
  for (const [name, bytes, type, filename] of files) form.append(name, new Blob([bytes], { type }), filename);
  return form;
}

function assertImage({ status, type, bytes }, label) {
  assert.equal(status, 200, `${label}: ${bytes.toString("utf8").slice(0, 300)}`);
  assert.ok(type?.startsWith("image/"), `${label}: ${type}`);
  assert.equal(formatOf(bytes), type, `${label}: the content type is the bytes' own`);
}

test("a curl -F upload with three reference images runs once and answers the image", async () => {
  const prompt = uniquePrompt("flux2 three references");
  const form = formOf({ prompt, seed: 5, ...small }, [
    ["input_image_0", png, "image/png", "a.png"],
    ["input_image_1", jpeg, "image/jpeg", "b.jpg"],
    ["input_image_2", webp, "image/webp", "c.webp"],
  ]);
  const answer = await post(NATIVE, form);
  assertImage(answer, "multipart");
  assert.equal(answer.res.headers.get("x-cache"), "MISS");
  assert.equal(answer.res.headers.get("x-seed"), "5");
  assert.equal(await runsFor(prompt), 1);
});

test("an images list in JSON is the same request as the fields one by one, and as images file parts", async () => {
  const prompt = uniquePrompt("flux2 images list");
  const listed = await post(NATIVE, { prompt, seed: 6, ...small, images: [b64(png), dataUrl(jpeg, "image/jpeg")] });
  assertImage(listed, "images list");
  assert.equal(listed.res.headers.get("x-cache"), "MISS");
  const fields = await post(NATIVE, { prompt, seed: 6, ...small, input_image_0: [...png], input_image_1_b64: b64(jpeg) });
  assertImage(fields, "fields");
  const parts = await post(
    NATIVE,
    formOf({ prompt, seed: 6, ...small }, [
      ["images", png, "image/png", "a.png"],
      ["images", jpeg, "image/jpeg", "b.jpg"],
    ]),
  );
  assertImage(parts, "images parts");
  for (const other of [fields, parts]) {
    assert.equal(keyOf(other.res), keyOf(listed.res));
    assert.equal(other.res.headers.get("x-cache"), "HIT");
  }
  assert.equal(await runsFor(prompt), 1);
});

test("the same request twice is a hit; the same images swapped are another request", async () => {
  const prompt = uniquePrompt("flux2 order");
  const body = { prompt, seed: 7, ...small, images: [b64(png), b64(jpeg)] };
  const first = await post(NATIVE, body);
  assertImage(first, "first");
  const again = await post(NATIVE, body);
  assertImage(again, "again");
  assert.equal(again.res.headers.get("x-cache"), "HIT");
  assert.equal(keyOf(again.res), keyOf(first.res));
  assert.equal(await runsFor(prompt), 1);
  const swapped = await post(NATIVE, { ...body, images: [b64(jpeg), b64(png)] });
  assertImage(swapped, "swapped");
  assert.equal(swapped.res.headers.get("x-cache"), "MISS");
  assert.notEqual(keyOf(swapped.res), keyOf(first.res));
  assert.equal(await runsFor(prompt), 2);
});

test("the REST drop-in takes the model's own multipart form and answers the v4 envelope", async () => {
  const prompt = uniquePrompt("flux2 rest");
  const form = formOf({ prompt, width: 256, height: 256, seed: 8 }, [
    ["input_image_0", png, "image/png", "a.png"],
    ["input_image_1", jpeg, "image/jpeg", "b.jpg"],
  ]);
  const { status, type, bytes } = await post(REST, form, { accept: "application/json" });
  assert.equal(status, 200, bytes.toString("utf8").slice(0, 300));
  assert.ok(type.startsWith("application/json"), type);
  const envelope = JSON.parse(bytes.toString("utf8"));
  assert.deepEqual(Object.keys(envelope.result), ["image"]);
  assert.equal(envelope.success, true);
  assert.deepEqual(envelope.errors, []);
  assert.deepEqual(envelope.messages, []);
  assert.ok(formatOf(Buffer.from(envelope.result.image, "base64")), "result.image is an image's base64");
  assert.equal(await runsFor(prompt), 1);
});

test("a job with reference images carries them through the queue and succeeds", async () => {
  const prompt = uniquePrompt("flux2 job");
  // Noise does not compress: over what a queue message carries inline, so the input goes by R2.
  const images = [noisePngBase64(), dataUrl(png, "image/png")];
  const r = await create(
    { version: "black-forest-labs/flux-2-klein-4b", input: { prompt, ...small, seed: 9, images } },
    { headers: { prefer: "wait=30" } },
  );
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.status, "succeeded", r.json.error);
  const res = await fetch(r.json.output[0]);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(formatOf(bytes), res.headers.get("content-type"));
  assert.equal(await runsFor(prompt), 1);
});

test("a fifth reference image is refused naming images, before any run", async () => {
  const prompt = uniquePrompt("flux2 five");
  for (const [label, body] of [
    ["JSON", { prompt, images: Array(5).fill(b64(png)) }],
    ["form", formOf({ prompt }, Array.from({ length: 5 }, () => ["images", png, "image/png", "a.png"]))],
  ]) {
    const { status, bytes } = await post(NATIVE, body);
    assert.equal(status, 400, label);
    const { errors } = JSON.parse(bytes.toString("utf8"));
    assert.deepEqual(
      errors.map((e) => [e.path, e.rule]),
      [["/images", "max_items"]],
      label,
    );
  }
  const mixed = await post(NATIVE, { prompt, images: [b64(png)], input_image_0: [...png] });
  assert.equal(mixed.status, 400);
  assert.ok(JSON.parse(mixed.bytes.toString("utf8")).errors.some((e) => e.path === "/images" && e.rule === "exclusive"));
  assert.equal(await runsFor(prompt), 0);
});

test("steps 8 on a klein model is a 400 naming steps, before any run, on every door", async () => {
  const prompt = uniquePrompt("flux2 steps");
  const native = await post(NATIVE, { prompt, steps: 8 });
  assert.equal(native.status, 400);
  assert.deepEqual(
    JSON.parse(native.bytes.toString("utf8")).errors.map((e) => [e.path, e.rule]),
    [["/steps", "maximum"]],
  );
  const rest = await post(REST, formOf({ prompt, steps: 8 }));
  assert.equal(rest.status, 400);
  assert.equal(JSON.parse(rest.bytes.toString("utf8")).errors[0].code, 5006);
  assert.equal(await runsFor(prompt), 0);
});
