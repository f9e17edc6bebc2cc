// One hostile request per door, each checked for its answer *and* for what it cost: the Wasm
// memory of the Worker that read it (the gateway's, or the jobs Worker's: `GET
// /__admin/memory?worker=jobs`) stays within its budget. Sizes a client claims (a PNG header, `n`)
// must never size a buffer before the bytes behind them are counted; no body is parsed whole
// into values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { BASE, MODEL, api } from "./helpers.mjs";
import { settle } from "./jobs-helpers.mjs";

const MIB = 1024 * 1024;
const memoryOf = async (worker) =>
  (await fetch(`${BASE}/__admin/memory${worker === "jobs" ? "?worker=jobs" : ""}`)).json();

/** Runs `send` and checks that the Worker's Wasm memory grew by at most `bound` bytes (its
 * budget's limit unless said), and that its budget never held more than its limit. */
async function withinBudget(worker, send, bound) {
  const before = await memoryOf(worker);
  const result = await send(before);
  const after = await memoryOf(worker);
  const growth = after.wasm_memory_bytes - before.wasm_memory_bytes;
  const limit = bound ?? after.budget.limit_bytes;
  assert.ok(
    growth <= limit,
    `${worker}: Wasm memory grew ${(growth / MIB).toFixed(1)} MiB; bound ${(limit / MIB).toFixed(1)} MiB`,
  );
  assert.ok(after.budget.peak_bytes <= after.budget.limit_bytes, `${worker}: the budget's peak passed its limit`);
  return result;
}

/** A PNG chunk of `type` with `data`, its CRC valid. */
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG whose header claims `width` x `height` RGBA at 16 bits, with a few bytes of image
 * data: its CRCs are valid, so only its size can refuse it. */
function claimedPng(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([16, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", Buffer.from([0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A noise PNG of about `bytes` bytes (noise does not compress). */
function noisePng(bytes) {
  const side = Math.floor(Math.sqrt(bytes / 3));
  const png = new PNG({ width: side, height: side, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.alloc(side * side * 3);
  let state = 12345;
  for (let i = 0; i < png.data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    png.data[i] = state >>> 24;
  }
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 1 });
}

const TEN_MB = noisePng(10 * 1000 * 1000);
const small = new PNG({ width: 64, height: 64 });
small.data.fill(200);
const SMALL_PNG = PNG.sync.write(small);

test("OpenAI edits: a 69-byte mask claiming 16,777,216 x 1 RGBA16 is a 400 naming mask, with or without an image", async () => {
  const mask = claimedPng(16_777_216, 1);
  assert.ok(mask.length <= 69, `${mask.length} bytes`);
  for (const withImage of [true, false]) {
    const answer = await withinBudget(
      "gateway",
      async () => {
        const form = new FormData();
        form.append("prompt", "hostile mask");
        if (withImage) form.append("image", new Blob([SMALL_PNG], { type: "image/png" }), "image.png");
        form.append("mask", new Blob([mask], { type: "image/png" }), "mask.png");
        const res = await api(`${BASE}/v1/images/edits`, { method: "POST", body: form });
        return { status: res.status, body: await res.json() };
      },
      4 * MIB,
    );
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    // With an image the mask is the one problem; without, the missing image comes first.
    if (withImage) assert.equal(answer.body.error.param, "mask", JSON.stringify(answer.body));
    assert.match(answer.body.error.message, /'\/mask' is 16777216x1; neither side may exceed 4096/);
  }
});

/** A 64 x 64 RGBA PNG whose image data (18,496 bytes for that header) inflates to 256 MiB:
 * a decompression bomb of about 260 KB, its CRCs and Adler-32 all valid. */
function bombPng() {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(64, 0);
  ihdr.writeUInt32BE(64, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(256 << 20))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

test("OpenAI edits: a mask whose image data inflates to 256 MiB for a 64 x 64 header is a 400 naming mask, within the budget", async () => {
  const mask = bombPng();
  assert.ok(mask.length < 300_000, `${mask.length} bytes`);
  const answer = await withinBudget(
    "gateway",
    async () => {
      const form = new FormData();
      form.append("prompt", "hostile bomb");
      form.append("image", new Blob([SMALL_PNG], { type: "image/png" }), "image.png");
      form.append("mask", new Blob([mask], { type: "image/png" }), "mask.png");
      const res = await api(`${BASE}/v1/images/edits`, { method: "POST", body: form });
      return { status: res.status, body: await res.json() };
    },
    4 * MIB,
  );
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.equal(answer.body.error.param, "mask", JSON.stringify(answer.body));
  assert.match(answer.body.error.message, /'\/mask' is not a readable PNG: it has more image data than its size/);
});

test("jobs: a create near the body limit padded with a numeric array (beside and inside the input, n = 8) is answered within the budget", async () => {
  const { max_body_bytes: maxBody } = await memoryOf("jobs");
  for (const inside of [false, true]) {
    const head = inside
      ? `{"version":"${MODEL}","input":{"prompt":"padded","seed":5,"width":256,"height":256,"n":8,"pad":[`
      : `{"version":"${MODEL}","input":{"prompt":"padded","seed":5,"width":256,"height":256},"pad":[`;
    const tail = inside ? "0]}}" : "0]}";
    const body = head + "0,".repeat(Math.floor((maxBody - head.length - tail.length - 64) / 2)) + tail;
    assert.ok(body.length > maxBody * 0.99 && body.length <= maxBody);
    const answer = await withinBudget("jobs", async () => {
      const res = await api(`${BASE}/v1/predictions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      return { status: res.status, body: await res.json() };
    });
    // Accepted, or refused clearly (never a 500, never an isolate gone).
    assert.ok(
      answer.status === 201 || (answer.status >= 400 && answer.status < 500) || answer.status === 503,
      `status ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`,
    );
    if (answer.status === 201) {
      const echoed = JSON.stringify(answer.body.input);
      assert.ok(echoed.length < 8192, `the echo is ${echoed.length} characters`);
    }
  }
});

test("jobs: n = 8 with a 10 MB image is made within the jobs Worker's budget", async () => {
  const id = await withinBudget("jobs", async () => {
    const res = await api(`${BASE}/v1/predictions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        version: MODEL,
        input: { prompt: "hostile n8", seed: 11, strength: 0.5, n: 8, image_b64: TEN_MB.toString("base64") },
      }),
    });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body).slice(0, 300));
    assert.ok(JSON.stringify(body.input).length < 8192, "the image is not echoed");
    return body.id;
  });
  const done = await withinBudget("jobs", () => settle(id, { timeoutMs: 240_000 }));
  assert.equal(done.status, "succeeded", JSON.stringify(done).slice(0, 300));
  assert.equal(done.output.length, 8);
});

test("OpenAI: n = 8 edits of a 10 MB image, and n = 8 generations padded, are answered within the budget", async () => {
  const edit = await withinBudget("gateway", async () => {
    const form = new FormData();
    form.append("prompt", "hostile edit n8");
    form.append("n", "8");
    form.append("image", new Blob([TEN_MB], { type: "image/png" }), "image.png");
    const res = await api(`${BASE}/v1/images/edits`, { method: "POST", body: form });
    return { status: res.status, text: await res.text() };
  });
  // All made, or the budget's refusal: never a 500.
  assert.ok([200, 503].includes(edit.status), `status ${edit.status}: ${edit.text.slice(0, 300)}`);
  if (edit.status === 200) assert.equal(JSON.parse(edit.text).data.length, 8);

  const { max_body_bytes: maxBody } = await memoryOf("gateway");
  const head = `{"prompt":"hostile generations","n":8,"size":"256x256","user":[`;
  const body = head + "0,".repeat(Math.floor((maxBody - head.length - 64) / 2)) + "0]}";
  const generations = await withinBudget("gateway", async () => {
    const res = await api(`${BASE}/v1/images/generations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return { status: res.status, body: await res.json() };
  });
  assert.equal(generations.status, 400, JSON.stringify(generations.body).slice(0, 300));
  assert.equal(generations.body.error.param, "user");
});

test("native and REST doors: a 10 MB image is answered within the budget", async () => {
  for (const path of ["/", `/client/v4/accounts/acct/ai/run/${MODEL}`]) {
    const answer = await withinBudget("gateway", async () => {
      const res = await api(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "cache-control": "no-store" },
        body: JSON.stringify({ prompt: "hostile native", seed: 3, strength: 0.5, image_b64: TEN_MB.toString("base64") }),
      });
      return { status: res.status, text: Buffer.from(await res.arrayBuffer()).subarray(0, 300).toString() };
    });
    assert.ok([200, 503].includes(answer.status), `${path}: status ${answer.status}: ${answer.text}`);
  }
});
