// The stand-in speaks FLUX.2: `run(model, {multipart: {body, contentType}})` with the form as a
// stream, called on the stand-in itself as the rehearsal's AI relay calls it, so what is checked
// here is the model's side, whatever the gateway sends. The forms are built as Workers AI's docs
// build them: a FormData, then `new Response(form)` for its body and content type.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PNG } from "pngjs";
import { decodeJpeg, runOnStandin, statsFor, uniquePrompt } from "./helpers.mjs";

const DEV = "@cf/black-forest-labs/flux-2-dev";
const KLEIN = "@cf/black-forest-labs/flux-2-klein-4b";

/** A small PNG of one colour: different colours, different bytes. */
function solidPng(r, g, b) {
  const png = new PNG({ width: 24, height: 16 });
  for (let i = 0; i < png.data.length; i += 4) png.data.set([r, g, b, 255], i);
  return PNG.sync.write(png);
}
const IMAGES = [solidPng(200, 30, 30), solidPng(30, 200, 30), solidPng(30, 30, 200), solidPng(90, 90, 90)];

/** `{multipart: {body, contentType}}` of `fields` (`[name, string | Buffer]`, a Buffer as a file). */
function multipart(fields) {
  const form = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === "string") form.append(name, value);
    else form.append(name, new Blob([value], { type: "image/png" }), `${name}.png`);
  }
  const res = new Response(form);
  return { multipart: { body: res.body, contentType: res.headers.get("content-type") } };
}

const imageOf = ({ kind, value, message }) => {
  assert.equal(kind, "json", message);
  assert.deepEqual(Object.keys(value), ["image"]);
  return Buffer.from(value.image, "base64");
};
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

test("a prompt alone: {image} of the table's default size, and the ledger says what came", async () => {
  const prompt = uniquePrompt("flux2 prompt only");
  const answer = await runOnStandin(DEV, multipart([["prompt", prompt]]));
  const image = decodeJpeg(imageOf(answer));
  assert.deepEqual([image.width, image.height], [1024, 768]);
  const stats = await statsFor(prompt);
  assert.equal(stats.prompt_runs, 1);
  assert.deepEqual(stats.last_multipart.fields, ["prompt"]);
  assert.equal(stats.last_multipart.boundary, true);
  assert.match(stats.last_multipart.content_type, /^multipart\/form-data; ?boundary=/);
  assert.deepEqual(stats.last_multipart.files, []);
});

test("three reference images: the picture depends on them and their order; the ledger lists them", async () => {
  const prompt = uniquePrompt("flux2 three images");
  const run = (order) =>
    runOnStandin(
      KLEIN,
      multipart([
        ["prompt", prompt],
        ...order.map((which, i) => [`input_image_${i}`, IMAGES[which]]),
        ["width", "256"],
        ["height", "320"],
        ["seed", "42"],
      ]),
    ).then(imageOf);
  const forward = await run([0, 1, 2]);
  assert.deepEqual(await run([0, 1, 2]), forward, "the same form, the same picture");
  const decoded = decodeJpeg(forward);
  assert.deepEqual([decoded.width, decoded.height], [256, 320]);
  const backward = await run([2, 1, 0]);
  assert.notDeepEqual(backward, forward);
  const received = (await statsFor(prompt)).last_multipart;
  assert.deepEqual(received.fields, ["prompt", "input_image_0", "input_image_1", "input_image_2", "width", "height", "seed"]);
  assert.deepEqual(
    received.files,
    [2, 1, 0].map((which, i) => ({ field: `input_image_${i}`, bytes: IMAGES[which].length, sha256: sha256(IMAGES[which]) })),
  );
  assert.notDeepEqual(await run([0, 1]), forward);
});

test("planted mistakes are refused with the real error shape", async () => {
  const prompt = uniquePrompt("flux2 mistakes");
  const withoutBoundary = multipart([["prompt", prompt]]);
  withoutBoundary.multipart.contentType = "multipart/form-data";
  const otherBoundary = multipart([["prompt", prompt]]);
  otherBoundary.multipart.contentType = "multipart/form-data; boundary=not-the-one-used";
  const cases = [
    [DEV, withoutBoundary, "5006: Error: the multipart content type 'multipart/form-data' has no boundary"],
    [DEV, otherBoundary, /^5006: Error: the multipart body is not a valid multipart\/form-data body: /],
    [
      DEV,
      multipart([["prompt", prompt], ["input_image0", IMAGES[0]]]),
      "5006: Error: Additional or unevaluated properties '/input_image0' at '/' not allowed",
    ],
    [KLEIN, multipart([["prompt", prompt], ["steps", "8"]]), "5006: Error: '/steps' must be <= 4"],
    [
      KLEIN,
      multipart([["prompt", prompt], ...[0, 1, 2, 3, 0].map((which, i) => [`input_image_${i}`, IMAGES[which]])]),
      "5006: Error: Additional or unevaluated properties '/input_image_4' at '/' not allowed",
    ],
    [
      DEV,
      multipart([["prompt", prompt], ["input_image_0_b64", IMAGES[0].toString("base64")]]),
      "5006: Error: Additional or unevaluated properties '/input_image_0_b64' at '/' not allowed",
    ],
    [
      DEV,
      multipart([["prompt", prompt], ["input_image_0", Buffer.from("not an image at all")]]),
      /^5006: Error: '\/input_image_0' /,
    ],
    [DEV, { prompt }, "5006: Error: required properties at '/' are 'multipart'"],
  ];
  for (const [model, inputs, expected] of cases) {
    const answer = await runOnStandin(model, inputs);
    assert.equal(answer.kind, "error", JSON.stringify(expected));
    assert.equal(answer.name, "AiError");
    if (typeof expected === "string") assert.equal(answer.message, expected);
    else assert.match(answer.message, expected);
  }
  assert.equal((await statsFor(prompt)).prompt_runs, 0, "no refused form was run");
});

test("what the binding itself refuses: no content type, AI Gateway with a stream", async () => {
  const prompt = uniquePrompt("flux2 binding");
  const noType = multipart([["prompt", prompt]]);
  delete noType.multipart.contentType;
  assert.deepEqual(await runOnStandin(DEV, noType), {
    kind: "error",
    name: "AiInternalError",
    message: "Content-Type is required with ReadableStream inputs",
  });
  assert.deepEqual(await runOnStandin(DEV, multipart([["prompt", prompt]]), { gateway: { id: "g", skipCache: true } }), {
    kind: "error",
    name: "AiInternalError",
    message: "AI Gateway does not support ReadableStreams yet.",
  });
});
