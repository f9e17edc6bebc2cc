// The browser playground (GET / for browsers) in real headless Chromium: the form is built for the
// default model, an image is generated and shown with its seed and cache status, the same inputs
// are a cache hit, a server-side validation error is shown next to its field, and the session
// history lists both images.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { BASE, fixture, MODEL, PERMALINK, storedAt } from "./helpers.mjs";

const CHROMIUM = "/usr/bin/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(here, "..", "..", "test-artifacts");
const FIXTURES = join(here, "..", "fixtures");
const FLUX = "@cf/black-forest-labs/flux-1-schnell";
const IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img";
const WAIT_MS = 30_000;

let browser;
let page;
const pageErrors = [];
const prompt = `playground lighthouse at dusk ${process.pid}-${Date.now()}`;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the playground test needs Debian's chromium ` +
        "(bash scripts/setup.sh installs it: apt-get install -y --no-install-recommends chromium)",
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (e) => pageErrors.push(e));
});

after(async () => {
  await browser?.close();
});

/** Clicks Generate and waits until the page has finished that request; returns its outcome. */
async function generate() {
  const before = Number(await page.getAttribute("#result", "data-count"));
  await page.click("#generate");
  await page.waitForFunction(
    (n) => Number(document.getElementById("result").dataset.count) > n,
    before,
    { timeout: WAIT_MS },
  );
  const state = await page.getAttribute("#result", "data-state");
  return { state, errors: await page.textContent("#errors") };
}

async function fill(values) {
  for (const [selector, value] of Object.entries(values)) await page.fill(selector, String(value));
}

async function shownImage() {
  return page.$eval("#result-image", (img) => ({
    complete: img.complete,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
  }));
}

test("GET / with Accept: text/html serves the playground, with a form for the default model", async () => {
  const response = await page.goto(`${BASE}/`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-type"], /^text\/html/);
  assert.match((await response.request().allHeaders()).accept, /text\/html/, "a browser navigation");
  await page.waitForSelector("#form[data-ready='true']");

  assert.equal(await page.$eval("#model", (s) => s.value), MODEL, "the first model is the default");
  await page.selectOption("#model", MODEL);
  for (const id of ["prompt", "negative_prompt", "width", "height", "steps", "guidance", "seed", "image", "mask"]) {
    assert.ok(await page.$(`#${id}`), `#${id} is in the form`);
  }
  // Bounds and defaults come from the model's schema.
  assert.deepEqual(
    await page.$eval("#steps", (i) => [i.name, i.min, i.max, i.placeholder]),
    ["num_steps", "1", "20", "20"],
  );
  assert.deepEqual(await page.$eval("#width", (i) => [i.min, i.max]), ["256", "2048"]);
  assert.equal(await page.$eval("#guidance", (i) => i.placeholder), "7.5");
  assert.equal(await page.$eval("#form", (f) => f.noValidate), true, "the server validates");
  const unlabelled = await page.$$eval("input, select, textarea", (all) =>
    all.filter((e) => e.labels.length === 0).map((e) => e.id || e.name),
  );
  assert.deepEqual(unlabelled, [], "every input has a label");
  assert.equal(await page.locator("main").count(), 1);
});

test("generating shows the image at its size, with its seed and a cache MISS", async () => {
  await fill({ "#prompt": prompt, "#width": 512, "#height": 384, "#seed": 1234 });
  const { state, errors } = await generate();
  assert.equal(state, "shown", `errors shown: ${errors}`);

  const img = await shownImage();
  assert.deepEqual(img, { complete: true, naturalWidth: 512, naturalHeight: 384 });
  assert.ok(await page.isVisible("#result-image"), "the image is visible");
  const box = await page.locator("#result-image").boundingBox();
  assert.ok(box && box.width > 0 && box.height > 0, `the image has a box: ${JSON.stringify(box)}`);

  assert.equal((await page.textContent("#result-seed")).trim(), "1234");
  assert.equal((await page.textContent("#result-cache")).trim(), "MISS");
  assert.match(await page.textContent("#result-type"), /^image\/(png|jpeg)/);
  assert.match(await page.textContent("#result-size"), /512 × 384/);
  assert.match(await page.textContent("#result-time"), /\d+(\.\d+)? (ms|s)$/);
});

test("the same inputs again are a cache HIT", async () => {
  // Results are stored after the response is sent: wait for the store before asking again.
  const permalink = await page.getAttribute("#result-permalink", "href");
  assert.match(permalink, PERMALINK);
  await storedAt(permalink);

  const { state, errors } = await generate();
  assert.equal(state, "shown", `errors shown: ${errors}`);
  assert.equal((await page.textContent("#result-cache")).trim(), "HIT");
  // The first answer put it in this isolate's memory, and the permalink read above found it there
  // (other tiers only answer once memory has let it go).
  assert.match((await page.textContent("#result-cache-tier")).trim(), /^\((memory|cache-api|r2)\)$/);
  assert.equal((await page.textContent("#result-seed")).trim(), "1234");
  const img = await shownImage();
  assert.deepEqual([img.naturalWidth, img.naturalHeight], [512, 384]);
});

test("a server-side validation error is shown next to its field", async () => {
  await fill({ "#steps": 99 });
  const { state, errors } = await generate();
  assert.equal(state, "error");
  assert.match(errors, /'\/num_steps' must be <= 20/, "the summary lists the server's message");
  assert.equal(await page.getAttribute("#steps", "aria-invalid"), "true");
  assert.ok(await page.isVisible("#steps-error"));
  assert.match(await page.textContent("#steps-error"), /'\/num_steps' must be <= 20/);
  const describedBy = await page.getAttribute("#steps", "aria-describedby");
  assert.ok(describedBy.split(" ").includes("steps-error"), "the message describes the field");
  // Other fields are not marked.
  assert.equal(await page.getAttribute("#width", "aria-invalid"), null);
});

test("the history lists both images, most recent first, and shows one again when clicked", async () => {
  const items = page.locator("#history li");
  assert.equal(await items.count(), 2);
  const texts = await items.allTextContents();
  assert.ok(texts.every((t) => t.includes(prompt) && t.includes("1234")), texts.join(" | "));
  assert.match(texts[0], /HIT/);
  assert.match(texts[1], /MISS/);

  await items.nth(1).locator("button").click();
  await page.waitForSelector("#history li:nth-child(2) button[aria-current='true']");
  assert.equal((await page.textContent("#result-cache")).trim(), "MISS");
  assert.equal(await page.$eval("#result-image", (i) => i.naturalWidth), 512);

  await page.fill("#seed", "");
  await page.click("#reuse-seed");
  assert.equal(await page.inputValue("#seed"), "1234");

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "playground.png"), fullPage: true });
});

test("inpainting: the image file is sent as a data URL, the mask as an array of its bytes", async () => {
  await fill({ "#prompt": `${prompt} inpainted`, "#width": 256, "#height": 256, "#steps": "", "#seed": 77 });
  await page.setInputFiles("#image", join(FIXTURES, "photo-256.png"));
  await page.setInputFiles("#mask", join(FIXTURES, "mask-256.png"));
  const [request, outcome] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().includes("/ai/run/")),
    generate(),
  ]);
  assert.equal(outcome.state, "shown", `errors shown: ${outcome.errors}`);
  assert.equal(new URL(request.url()).pathname, `/ai/run/${MODEL}`);
  const body = request.postDataJSON();
  assert.deepEqual(Object.keys(body).sort(), ["height", "image_b64", "mask", "prompt", "seed", "width"]);
  assert.equal(body.image_b64, `data:image/png;base64,${fixture("photo-256.png").toString("base64")}`);
  assert.deepEqual(body.mask, [...fixture("mask-256.png")]);
  assert.equal(body.seed, 77, "numbers are sent as numbers");
  assert.equal((await page.textContent("#result-seed")).trim(), "77");
  assert.equal(await page.locator("#history li").count(), 3);
});

test("a mask of another size than the input image: the error is shown next to the mask field", async () => {
  await page.setInputFiles("#mask", join(FIXTURES, "mask-128.png"));
  const { state, errors } = await generate();
  assert.equal(state, "error");
  assert.equal(await page.getAttribute("#mask", "aria-invalid"), "true");
  assert.ok(await page.isVisible("#mask-error"));
  assert.ok(errors.includes((await page.textContent("#mask-error")).trim()));
  assert.equal(await page.getAttribute("#steps", "aria-invalid"), null, "the earlier error is gone");
  await page.setInputFiles("#mask", []);
});

test("the page fits a 360 px wide screen", async () => {
  await page.setViewportSize({ width: 360, height: 780 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  const box = await page.locator("#result-image").boundingBox();
  assert.ok(box.width > 0 && box.width <= 360, `image box ${JSON.stringify(box)}`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "playground-360.png"), fullPage: true });
});

test("the form follows each model's schema, and sends only the filled fields", async () => {
  // A catalog as GET /models answers it, served by the browser itself so this runs on any build.
  const property = (type, extra = {}) => ({ type, description: `the ${type}`, ...extra });
  const catalog = {
    models: [
      {
        id: MODEL,
        summary: "default",
        output: "image/png",
        input_schema: {
          type: "object",
          properties: { prompt: property("string", { minLength: 1 }), seed: property("integer", { minimum: 0 }) },
          required: ["prompt"],
        },
      },
      {
        id: FLUX,
        summary: "prompt and steps only",
        output: "application/json",
        input_schema: {
          type: "object",
          properties: {
            prompt: property("string", { minLength: 1, maxLength: 2048 }),
            steps: property("integer", { minimum: 1, maximum: 8, default: 4 }),
          },
          required: ["prompt"],
          additionalProperties: false,
        },
      },
      {
        id: IMG2IMG,
        summary: "an input image is required",
        output: "image/png",
        input_schema: {
          type: "object",
          properties: {
            prompt: property("string", { minLength: 1 }),
            image: property("array", { items: { type: "integer", minimum: 0, maximum: 255 } }),
            image_b64: property("string", { contentEncoding: "base64" }),
            strength: property("number", { minimum: 0, maximum: 1, default: 1 }),
          },
          required: ["prompt"],
          allOf: [{ anyOf: [{ required: ["image"] }, { required: ["image_b64"] }] }],
        },
      },
    ],
  };
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  try {
    const p = await context.newPage();
    p.setDefaultTimeout(WAIT_MS);
    p.on("pageerror", (e) => pageErrors.push(e));
    await p.route(`${BASE}/models`, (route) => route.fulfill({ json: catalog }));
    let sent;
    await p.route(`${BASE}/ai/run/**`, async (route) => {
      const r = route.request();
      sent = { path: new URL(r.url()).pathname, body: r.postDataJSON(), authorization: r.headers().authorization };
      await route.fulfill({ status: 200, contentType: "image/png", body: fixture("photo-256.png") });
    });
    await p.goto(`${BASE}/`);
    await p.waitForSelector("#form[data-ready='true']");
    assert.deepEqual(await p.$$eval("#model option", (o) => o.map((x) => x.value)), [MODEL, FLUX, IMG2IMG]);
    assert.equal(await p.$eval("#model", (s) => s.value), MODEL);
    assert.equal(await p.isVisible("#models-note"), false);

    await p.selectOption("#model", FLUX);
    assert.deepEqual(await p.$eval("#steps", (i) => [i.name, i.min, i.max, i.placeholder]), ["steps", "1", "8", "4"]);
    for (const absent of ["negative_prompt", "width", "height", "guidance", "seed", "image", "mask", "strength"]) {
      assert.equal(await p.$(`#${absent}`), null, `#${absent} is not in FLUX's form`);
    }
    await p.fill("#prompt", "a fox");
    await p.fill("#steps", "3");
    await p.click("#token-details summary");
    await p.fill("#token", "tok-test");
    await p.click("#generate");
    await p.waitForSelector("#result[data-state='shown']");
    assert.deepEqual(sent, {
      path: `/ai/run/${FLUX}`,
      body: { prompt: "a fox", steps: 3 },
      authorization: "Bearer tok-test",
    });
    // No x-seed, no x-cache: shown as absent, and there is no seed to reuse.
    assert.equal((await p.textContent("#result-seed")).trim(), "—");
    assert.equal(await p.isDisabled("#reuse-seed"), true);

    await p.selectOption("#model", IMG2IMG);
    assert.match(await p.textContent("label[for='image']"), /required/);
    assert.equal(await p.getAttribute("#image", "name"), "image_b64");
    assert.ok(await p.$("#strength"));
    assert.equal(await p.inputValue("#prompt"), "a fox", "what was typed is kept across models");
  } finally {
    await context.close();
  }
});

test("no uncaught errors in the pages", () => {
  assert.deepEqual(pageErrors.map(String), []);
});
