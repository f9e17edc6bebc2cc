// Baseline "plain JS": the gateway's contract (README, "The contract") checked and normalized the
// obvious way in plain JavaScript: JSON.parse, a check per field, a loop over `image` checking each
// element, atob for `image_b64`, magic-number sniffing, defaults filled in, then AI.run with
// `image: [...bytes]`, and the model's output read whole and sniffed for its content type.
// Written to be reasonable, not slow. It keeps nothing: bench/workers/plainjs-store.js is this Worker
// plus the gateway's cache tiers.
// Not exported: workerd reads every export of a Worker's main module as an entrypoint.
const MODEL = "@cf/bytedance/stable-diffusion-xl-lightning";
const MAX_BODY_BYTES = 16 * 1024 * 1024; // the gateway's default
const KNOWN = new Set([
  "prompt", "negative_prompt", "height", "width", "image", "image_b64", "mask",
  "num_steps", "strength", "guidance", "seed",
]);

export default {
  async fetch(request, env) {
    const checked = await readRequest(request);
    if (checked instanceof Response) return checked;
    const made = await runModel(env, checked.inputs);
    if (made instanceof Response) return made;
    return new Response(made.bytes, { headers: { "content-type": made.format, ...answerHeaders(checked) } });
  },
};

// The steps below are exported so bench/workers/plainjs-store.js is this Worker plus the cache
// tiers, and nothing else differs between the two.

/**
 * The request read, parsed and normalized: `{inputs, images, ignored, seed, model, seedDrawn}` (`images`
 * the decoded bytes of `image` and `mask`, before they become number arrays), or the error
 * response.
 */
export async function readRequest(request) {
  if (request.method !== "POST") {
    return envelope(405, [{ code: 7001, message: `${request.method} is not allowed` }], { allow: "POST" });
  }
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (!(type === "" || type === "application/json" || type.endsWith("+json") ||
        type === "application/x-www-form-urlencoded")) {
    return envelope(415, [{ code: 3004, message: `unsupported content type ${type}` }]);
  }
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) {
    return envelope(413, [{ code: 3006, message: "the request body is too large" }]);
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return envelope(400, [{ code: 3003, message: `the request body is not valid JSON: ${e.message}` }]);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return envelope(400, [{ code: 3003, message: "the request body must be a JSON object" }]);
  }
  const normalized = normalize(body);
  if (normalized.errors.length > 0) {
    return envelope(400, normalized.errors.map((e) => ({ code: 5006, ...e })));
  }
  return { ...normalized, model: MODEL, seedDrawn: body.seed === undefined };
}

/** The model run, its output read whole and checked: `{bytes, format}`, or the error response. */
export async function runModel(env, inputs) {
  let output;
  try {
    const stream = await env.AI.run(MODEL, inputs);
    output = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    return upstreamError(e);
  }
  const format = wholeImageFormat(output);
  if (format === null) {
    return envelope(502, [{ code: 3043, message: "the model did not return a whole image" }]);
  }
  return { bytes: output, format };
}

/** The content type of `bytes` if they are a whole PNG, JPEG or WebP file, else null. */
export function wholeImageFormat(bytes) {
  const format = sniff(bytes);
  return format !== null && endsWhole(format, bytes) ? format : null;
}

/** The headers that say what was asked for, and the seed. */
export function answerHeaders({ inputs, ignored, seed }) {
  const headers = { "x-seed": String(seed) };
  if (inputs.width !== undefined) headers["x-requested-width"] = String(inputs.width);
  if (inputs.height !== undefined) headers["x-requested-height"] = String(inputs.height);
  if (ignored.length > 0) headers["x-ignored-fields"] = ignored.join(", ");
  return headers;
}

/**
 * Checks every field, listing every violation; fills defaults; decodes images. (Also exported so
 * bench/lib/wasm-timing.mjs can time it in Node, next to the gateway's Rust doing the same.)
 */
export function normalize(body) {
  const errors = [];
  const inputs = {};
  const ignored = Object.keys(body).filter((k) => !KNOWN.has(k));
  const fail = (path, rule, message, limit) =>
    errors.push(limit === undefined ? { path, rule, message } : { path, rule, message, limit });

  // prompt, negative_prompt
  if (body.prompt === undefined) {
    fail("/prompt", "required", "'/prompt' is required");
  } else if (typeof body.prompt !== "string") {
    fail("/prompt", "type", "'/prompt' must be a string");
  } else if (body.prompt.length < 1) {
    fail("/prompt", "min_length", "'/prompt' must have at least 1 character", 1);
  } else {
    inputs.prompt = body.prompt;
  }
  if (body.negative_prompt !== undefined) {
    if (typeof body.negative_prompt !== "string") {
      fail("/negative_prompt", "type", "'/negative_prompt' must be a string");
    } else {
      inputs.negative_prompt = body.negative_prompt;
    }
  }

  // width, height: integers 256-2048, rounded to a multiple of 8 (half up)
  for (const name of ["height", "width"]) {
    const v = integer(body, name, 256, 2048, fail);
    if (v !== undefined) inputs[name] = Math.floor(v / 8 + 0.5) * 8;
  }

  // image / image_b64 / mask
  if (body.image !== undefined && body.image_b64 !== undefined) {
    fail("/image_b64", "exclusive", "'/image' and '/image_b64' cannot both be sent");
  }
  let image;
  if (body.image !== undefined) {
    image = byteArray(body.image, "/image", fail);
  } else if (body.image_b64 !== undefined) {
    image = base64Image(body.image_b64, "/image_b64", fail);
  }
  let imageInfo;
  if (image !== undefined) {
    imageInfo = inspect(image, body.image !== undefined ? "/image" : "/image_b64", fail);
  }
  let mask;
  if (body.mask !== undefined) {
    if (body.image === undefined && body.image_b64 === undefined) {
      fail("/mask", "requires", "'/mask' needs '/image' or '/image_b64'");
    }
    mask = byteArray(body.mask, "/mask", fail);
    const maskInfo = mask && inspect(mask, "/mask", fail);
    if (maskInfo && imageInfo &&
        (maskInfo.width !== imageInfo.width || maskInfo.height !== imageInfo.height)) {
      fail("/mask", "same_dimensions", "'/mask' must have the same dimensions as the image");
    }
  }
  const images = { image, mask };
  if (image !== undefined) inputs.image = [...image];
  if (mask !== undefined) inputs.mask = [...mask];

  // num_steps, strength, guidance, seed
  inputs.num_steps = integer(body, "num_steps", 1, 20, fail) ?? 20;
  inputs.strength = number(body, "strength", 0, 1, fail) ?? 1;
  inputs.guidance = number(body, "guidance", -Infinity, Infinity, fail) ?? 7.5;
  const seed = integer(body, "seed", 0, Number.MAX_SAFE_INTEGER, fail) ??
    Math.floor(Math.random() * 4294967296);
  inputs.seed = seed;

  return { inputs, images, errors, ignored, seed };
}

function integer(body, name, min, max, fail) {
  const v = body[name];
  if (v === undefined) return undefined;
  const path = `/${name}`;
  if (typeof v !== "number") return void fail(path, "type", `'${path}' must be an integer`);
  if (!Number.isInteger(v)) return void fail(path, "integer", `'${path}' must be an integer`);
  if (v < min) return void fail(path, "minimum", `'${path}' must be >= ${min}`, min);
  if (v > max) return void fail(path, "maximum", `'${path}' must be <= ${max}`, max);
  return v;
}

function number(body, name, min, max, fail) {
  const v = body[name];
  if (v === undefined) return undefined;
  const path = `/${name}`;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    return void fail(path, "type", `'${path}' must be a number`);
  }
  if (v < min) return void fail(path, "minimum", `'${path}' must be >= ${min}`, min);
  if (v > max) return void fail(path, "maximum", `'${path}' must be <= ${max}`, max);
  return v;
}

/** An array of integers 0-255, as bytes; the first bad element is reported. */
function byteArray(value, path, fail) {
  if (!Array.isArray(value)) return void fail(path, "type", `'${path}' must be an array of integers 0-255`);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== "number") return void fail(`${path}/${i}`, "type", `'${path}/${i}' must be an integer 0-255`);
    if (!Number.isInteger(v)) return void fail(`${path}/${i}`, "integer", `'${path}/${i}' must be an integer 0-255`);
    if (v < 0) return void fail(`${path}/${i}`, "minimum", `'${path}/${i}' must be an integer 0-255`, 0);
    if (v > 255) return void fail(`${path}/${i}`, "maximum", `'${path}/${i}' must be an integer 0-255`, 255);
  }
  return new Uint8Array(value);
}

/** Base64 (standard or URL-safe, padding optional, line breaks, data: URL) to bytes. */
function base64Image(value, path, fail) {
  if (typeof value !== "string") return void fail(path, "type", `'${path}' must be a string`);
  let text = value;
  const prefix = /^data:image\/[a-z0-9.+-]+;base64,/i.exec(text);
  if (prefix) text = text.slice(prefix[0].length);
  text = text.replaceAll("-", "+").replaceAll("_", "/");
  let binary;
  try {
    binary = atob(text); // ignores whitespace; padding optional
  } catch {
    return void fail(path, "base64", `'${path}' is not valid base64`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Format and dimensions of a whole PNG, JPEG or WebP file, or a violation. */
function inspect(bytes, path, fail) {
  const format = sniff(bytes);
  if (format === null) return void fail(path, "image", `'${path}' is not a PNG, JPEG or WebP image`);
  const size = dimensions(format, bytes);
  if (size === null || size.width === 0 || size.height === 0) {
    return void fail(path, "image", `'${path}' has an unreadable header`);
  }
  if (!endsWhole(format, bytes)) return void fail(path, "image", `'${path}' is cut short`);
  return { format, ...size };
}

function sniff(b) {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 &&
      b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return "image/png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
      b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return "image/webp";
  return null;
}

function dimensions(format, b) {
  if (format === "image/png") {
    if (b.length < 24) return null;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (format === "image/jpeg") {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1];
      if (marker === 0xff) { i += 1; continue; }
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
      }
      i += 2 + ((b[i + 2] << 8) | b[i + 3]);
    }
    return null;
  }
  // WebP: VP8, VP8L or VP8X
  if (b.length < 30) return null;
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (chunk === "VP8 ") return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
  if (chunk === "VP8L") {
    return {
      width: 1 + (((b[22] & 0x3f) << 8) | b[21]),
      height: 1 + (((b[24] & 0x0f) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6)),
    };
  }
  if (chunk === "VP8X") {
    return { width: 1 + (b[24] | (b[25] << 8) | (b[26] << 16)), height: 1 + (b[27] | (b[28] << 8) | (b[29] << 16)) };
  }
  return null;
}

const IEND = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

function endsWhole(format, b) {
  if (format === "image/png") {
    if (b.length < IEND.length) return false;
    return IEND.every((v, i) => b[b.length - IEND.length + i] === v);
  }
  if (format === "image/jpeg") {
    for (let i = Math.max(0, b.length - 64); i + 1 < b.length; i++) {
      if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
    }
    return false;
  }
  const declared = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24);
  return (declared >>> 0) + 8 <= b.length;
}

/** The binding's thrown `"<code>: <reason>"` errors, mapped as the gateway maps them. */
function upstreamError(e) {
  const message = String(e?.message ?? e);
  const code = Number(/^(\d+):/.exec(message)?.[1]);
  const status = { 5006: 400, 3036: 429, 3021: 429, 4006: 429, 3040: 503, 3007: 504 }[code] ?? 502;
  return envelope(status, [{ code: code || 3043, message }]);
}

function envelope(status, errors, extra = {}) {
  return new Response(JSON.stringify({ success: false, errors, messages: [], result: null }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...extra },
  });
}
