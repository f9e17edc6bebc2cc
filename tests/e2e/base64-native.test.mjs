// `image_b64` decoded by the engine (`setFromBase64`, src/request_body.rs) against the
// Wasm decoder that keeps today's rules (core/src/base64_image): a property test in workerd,
// where the engine's decoder is (Node 20, which runs the wasm-bindgen tests, has none).
//
// Each generated text is sent twice: as it is, where the engine may decode it, and with its first
// character written as a JSON `\u` escape, which the engine's path never takes (the text is the
// same once the JSON is read). Both must be accepted or refused alike: the same status, the same
// errors, and for an accepted image the same cache key (the ETag), which is the digest of the
// decoded bytes. tests/fast_path.rs checks a model of the engine's step natively, on many more.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fixture, generate, uniquePrompt } from "./helpers.mjs";

/** mulberry32: the same cases on every run. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const at = (text, r) => Math.floor(r() * text.length);
const insert = (text, r, what) => {
  const i = at(text, r);
  return text.slice(0, i) + what + text.slice(i);
};
const replace = (text, r, what) => {
  const i = at(text, r);
  return text.slice(0, i) + what + text.slice(i + 1);
};
const SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Valid and broken as clients send them: alphabets, padding, whitespace, data URLs, truncation.
const MUTATIONS = [
  ["as is", (t) => t],
  ["URL-safe", (t) => t.replaceAll("+", "-").replaceAll("/", "_")],
  ["unpadded", (t) => t.replace(/=+$/, "")],
  ["a data URL", (t) => `data:image/png;base64,${t}`],
  ["an upper-case data URL, spaced", (t) => `DATA:image/png; BASE64 ,${t}`],
  ["a data URL that is not base64", (t) => `data:image/png,${t}`],
  ["a data URL, URL-safe and unpadded", (t) => `data:;base64,${t.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")}`],
  ["a space", (t, r) => insert(t, r, " ")],
  ["spaces around", (t) => `  ${t} `],
  ["a line break (a JSON escape)", (t, r) => insert(t, r, "\n")],
  ["MIME lines", (t) => t.match(/.{1,76}/g).join("\r\n")],
  ["a raw line break (not JSON)", (t, r) => insert(t, r, "\n")],
  ["a form feed", (t, r) => insert(t, r, "\f")],
  ["extra padding", (t) => `${t}=`],
  ["padding inside", (t, r) => insert(t, r, "==")],
  ["a symbol of the other alphabet", (t, r) => replace(t, r, t.includes("+") || t.includes("/") ? "-" : "_")],
  ["both alphabets", (t) => `${t.replace(/=+$/, "")}+_`.slice(0, -2) + "+_"],
  ["a symbol of neither", (t, r) => replace(t, r, "*")],
  ["a non-ASCII letter", (t, r) => replace(t, r, "é")],
  ["a BOM", (t) => `\ufeff${t}`],
  ["cut short", (t, r) => t.slice(0, at(t, r))],
  ["one symbol short", (t) => t.replace(/=+$/, "").slice(0, -1)],
  ["one symbol more", (t, r) => t.replace(/=+$/, "") + SYMBOLS[at(SYMBOLS, r)]],
  ["non-zero trailing bits", (t) => {
    const end = t.replace(/=+$/, "").length;
    const next = SYMBOLS[(SYMBOLS.indexOf(t[end - 1]) + 1) % 64];
    return t.slice(0, end - 1) + next + t.slice(end);
  }],
  ["a symbol changed", (t, r) => replace(t, r, SYMBOLS[at(SYMBOLS, r)])],
  ["empty", () => ""],
  ["only whitespace", () => " \t "],
  ["the picture cut short", (_, r, bytes) => bytes.subarray(0, bytes.length - 1 - Math.floor(r() * 16)).toString("base64")],
  ["not a picture", (_, r) => Buffer.from(Array.from({ length: 40 }, () => Math.floor(r() * 256))).toString("base64")],
];

// PNG, JPEG and WebP fixtures whose lengths leave 0, 1 and 2 bytes in the last group.
const PICTURES = ["photo-64x48.png", "photo-64x48.jpg", "photo-64x48.webp"];

/** The body with `text` as `image_b64`, the JSON written out; `escaped`: its first character as `\u`. */
function body(fields, text, escaped) {
  const json = JSON.stringify(text);
  let value = json;
  if (escaped && text.length > 0) {
    value = `"\\u${text.charCodeAt(0).toString(16).padStart(4, "0")}${json.slice(2)}`;
  }
  if (text.includes("\n") && fields.rawBreaks) value = value.replaceAll("\\n", "\n");
  const { rawBreaks, ...rest } = fields;
  return `${JSON.stringify(rest).slice(0, -1)},"image_b64":${value}}`;
}

/** What must match between the two sends. */
async function answer(res, bytes) {
  if (res.status === 200) return { status: 200, key: res.headers.get("etag") };
  const text = bytes.toString("utf8");
  let errors = text;
  try {
    // Syntax errors name a column, which the escape moves.
    errors = JSON.parse(text).errors.map((e) => [e.code, e.path, e.rule, e.message?.replace(/column \d+/, "column _")]);
  } catch {}
  return { status: res.status, errors };
}

test("image_b64 decoded by the engine is accepted, refused and keyed exactly as by the Wasm decoder", async () => {
  const r = random(14);
  const prompt = uniquePrompt("base64-native");
  const cases = [];
  for (const name of PICTURES) {
    const bytes = fixture(name);
    const text = bytes.toString("base64");
    for (const [label, mutate] of MUTATIONS) {
      for (let i = 0; i < 2; i++) {
        const rawBreaks = label.startsWith("a raw line break");
        cases.push({ label: `${name}, ${label}`, text: mutate(text, r, bytes), rawBreaks });
      }
    }
  }
  let accepted = 0;
  let refused = 0;
  const batch = 8;
  for (let i = 0; i < cases.length; i += batch) {
    await Promise.all(
      cases.slice(i, i + batch).map(async ({ label, text, rawBreaks }) => {
        const fields = { prompt, seed: 7, strength: 0.5, width: 256, height: 256, num_steps: 1, rawBreaks };
        const engine = await generate(body(fields, text, false));
        const wasm = await generate(body(fields, text, true));
        const [a, b] = [await answer(engine.res, engine.bytes), await answer(wasm.res, wasm.bytes)];
        assert.deepEqual(a, b, `${label}: ${JSON.stringify(text.slice(0, 80))}`);
        if (a.status === 200) accepted++;
        else refused++;
      }),
    );
  }
  // Not vacuous: both outcomes occur many times.
  assert.ok(accepted >= 20, `${accepted} accepted`);
  assert.ok(refused >= 60, `${refused} refused`);
});

test("the text the engine decoded reaches the model as the same picture the Wasm decoder's bytes make", async () => {
  // Not stored, so each request runs the model: the stand-in draws from the input picture, so
  // equal answers mean equal pictures reached it. A client's standard base64 is forwarded as it
  // came (src/request_body.rs); with an escape it goes through the Wasm decoder and is encoded again.
  const prompt = uniquePrompt("base64-forwarded");
  const fields = { prompt, seed: 11, strength: 0.5, width: 256, height: 256, num_steps: 1 };
  const headers = { "cache-control": "no-store" };
  const answers = [];
  for (const name of PICTURES) {
    const text = fixture(name).toString("base64");
    const engine = await generate(body(fields, text, false), { headers });
    const wasm = await generate(body(fields, text, true), { headers });
    assert.equal(engine.status, 200, `${name}: ${engine.bytes.toString().slice(0, 200)}`);
    assert.equal(wasm.status, 200, name);
    assert.equal(engine.res.headers.get("x-cache"), "BYPASS", name);
    assert.ok(engine.bytes.equals(wasm.bytes), `${name}: the model drew from another picture`);
    answers.push(engine.bytes);
  }
  // Not vacuous: another picture makes another answer.
  assert.ok(!answers[0].equals(answers[1]), "the answer depends on the picture");
});
