// The benchmark's request bodies, generated deterministically into bench/.cache (gitignored).
//
//   node bench/lib/fixtures.mjs          # (re)generates them if missing or out of date
//
// The img2img input is a 1024x1024 RGB PNG of noisy content: a smooth gradient plus seeded
// uniform noise, which compresses like a photograph does, to about 1.5 MB. As a JSON `image`
// number array that is a body of about 5.4 MB; as `image_b64`, about 2 MB.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = path.resolve(here, "../.cache");

/** Bump when anything below changes, so stale fixtures are regenerated. */
const VERSION = 1;
const SIDE = 1024;
const NOISE_AMPLITUDE = 5;
const SEED = 0x5d_1e_2024;

export const PROMPT = "a lighthouse on a cliff at dusk, oil painting";
export const IMG2IMG_PROMPT = "the same lighthouse at night, moonlight";
export const CACHE_SEED = 42;

/** mulberry32: a small, fast, seeded PRNG (the same numbers on every machine). */
export function prng(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function noisyPng() {
  const random = prng(SEED);
  const data = Buffer.alloc(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const i = (y * SIDE + x) * 3;
      const base = [(x * 255) / SIDE, (y * 255) / SIDE, ((x + y) * 127) / (2 * SIDE) + 64];
      for (let c = 0; c < 3; c++) {
        const v = Math.round(base[c] + (random() * 2 - 1) * NOISE_AMPLITUDE);
        data[i + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  const png = new PNG({ width: SIDE, height: SIDE, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = data;
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 9 });
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/**
 * Makes the fixtures if needed; answers their paths and a description.
 * Files: input.png, text.json, img2img-array.json, img2img-b64.json, cache-hit.json.
 */
export function ensureFixtures({ log = () => {} } = {}) {
  mkdirSync(CACHE_DIR, { recursive: true });
  const manifestPath = path.join(CACHE_DIR, "fixtures.json");
  const files = {
    png: path.join(CACHE_DIR, "input.png"),
    text: path.join(CACHE_DIR, "text.json"),
    array: path.join(CACHE_DIR, "img2img-array.json"),
    b64: path.join(CACHE_DIR, "img2img-b64.json"),
    cache: path.join(CACHE_DIR, "cache-hit.json"),
  };
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    if (manifest.version === VERSION && Object.values(files).every((f) => existsSync(f))) {
      return { files, ...manifest };
    }
  }
  log("generating fixtures in bench/.cache (once)");
  const png = noisyPng();
  writeFileSync(files.png, png);
  writeFileSync(files.text, JSON.stringify({ prompt: PROMPT }));
  writeFileSync(
    files.array,
    JSON.stringify({ prompt: IMG2IMG_PROMPT, strength: 0.6, image: Array.from(png) }),
  );
  writeFileSync(
    files.b64,
    JSON.stringify({ prompt: IMG2IMG_PROMPT, strength: 0.6, image_b64: png.toString("base64") }),
  );
  writeFileSync(files.cache, JSON.stringify({ prompt: PROMPT, seed: CACHE_SEED }));
  const size = (f) => readFileSync(f).length;
  const manifest = {
    version: VERSION,
    image: { width: SIDE, height: SIDE, bytes: png.length, sha256: sha256(png) },
    bodyBytes: {
      text: size(files.text),
      array: size(files.array),
      b64: size(files.b64),
      cache: size(files.cache),
    },
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return { files, ...manifest };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(ensureFixtures({ log: console.error }), null, 2));
}
