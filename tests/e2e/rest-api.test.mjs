// The Workers AI REST API drop-in, driven by the official `cloudflare` SDK with nothing changed
// but its base URL; and the same route spoken to directly.
import assert from "node:assert/strict";
import { test } from "node:test";
import Cloudflare from "cloudflare";
import { BASE, LOCKED, MODEL, decodeJpeg, decodePng, someIp, uniquePrompt } from "./helpers.mjs";

const FLUX = "@cf/black-forest-labs/flux-1-schnell";
const ACCOUNT = "0123456789abcdef0123456789abcdef";

/** The SDK as an app configures it, pointed at a gateway. No retries: failures must show. */
const sdk = (base, apiToken = "any-token") =>
  new Cloudflare({
    apiToken,
    baseURL: `${base}/client/v4`,
    maxRetries: 0,
    timeout: 120_000,
    defaultHeaders: { "cf-connecting-ip": someIp() },
  });

test("SDK: an SD model answers raw PNG bytes, whole and of the requested size", async () => {
  const prompt = uniquePrompt("sdk lighthouse");
  // The SDK reads non-JSON bodies as text; `.asResponse()` is its way to get the bytes.
  const res = await sdk(BASE)
    .ai.run(MODEL, { account_id: ACCOUNT, prompt, width: 512, height: 256, seed: 5 })
    .asResponse();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.equal(res.headers.get("x-seed"), "5");
  const png = decodePng(Buffer.from(await res.arrayBuffer()));
  assert.deepEqual([png.width, png.height], [512, 256]);
});

test("SDK: FLUX answers the v4 envelope, unwrapped by the SDK to {image: base64 JPEG}", async () => {
  const result = await sdk(BASE).ai.run(FLUX, { account_id: ACCOUNT, prompt: uniquePrompt("sdk fox") });
  assert.deepEqual(Object.keys(result), ["image"]);
  const jpeg = decodeJpeg(Buffer.from(result.image, "base64"));
  assert.deepEqual([jpeg.width, jpeg.height], [1024, 1024]);
});

test("SDK: refusals are thrown as the SDK's typed errors with Cloudflare's codes", async () => {
  const client = sdk(BASE);
  await assert.rejects(
    client.ai.run(MODEL, { account_id: ACCOUNT, prompt: "", num_steps: 21 }),
    (e) => {
      assert.ok(e instanceof Cloudflare.BadRequestError, e.constructor.name);
      assert.deepEqual(
        e.errors.map((x) => [x.code, x.path]),
        [
          [5006, "/prompt"],
          [5006, "/num_steps"],
        ],
      );
      return true;
    },
  );
  await assert.rejects(client.ai.run("@cf/nobody/no-such-model", { account_id: ACCOUNT, prompt: "x" }), (e) => {
    assert.ok(e instanceof Cloudflare.BadRequestError);
    assert.equal(e.errors[0].code, 5007);
    assert.match(e.errors[0].message, /No such model @cf\/nobody\/no-such-model or task/);
    return true;
  });
  // FLUX takes no seed: the live API answers 5006, so does the gateway, before any run.
  await assert.rejects(client.ai.run(FLUX, { account_id: ACCOUNT, prompt: "x", seed: 1 }), (e) => {
    assert.equal(e.status, 400);
    assert.deepEqual([e.errors[0].code, e.errors[0].path], [5006, "/seed"]);
    return true;
  });
});

test("SDK: with tokens required, the SDK's bearer token is what is checked", { skip: !LOCKED }, async () => {
  const prompt = uniquePrompt("sdk locked");
  const res = await sdk(LOCKED, "tok-beta")
    .ai.run(MODEL, { account_id: ACCOUNT, prompt, width: 256, height: 256, seed: 1 })
    .asResponse();
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await assert.rejects(
    sdk(LOCKED, "tok-wrong").ai.run(MODEL, { account_id: ACCOUNT, prompt }),
    (e) => e instanceof Cloudflare.AuthenticationError && e.errors[0].code === 10000,
  );
});

test("REST route: ignores Accept (the SDK always sends application/json) and takes POST only", async () => {
  const url = `${BASE}/client/v4/accounts/${ACCOUNT}/ai/run/${MODEL}`;
  const body = JSON.stringify({ prompt: uniquePrompt("rest accept"), width: 256, height: 256, seed: 2 });
  const headers = { "content-type": "application/json", accept: "application/json", "cf-connecting-ip": someIp() };
  const res = await fetch(url, { method: "POST", headers, body });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  await res.arrayBuffer();
  const get = await fetch(url, { headers: { "cf-connecting-ip": someIp() } });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  const envelope = await get.json();
  assert.equal(envelope.errors[0].code, 7001);
  // Workers AI's errors carry `"result": {}` (a non-nullable object in its API description).
  assert.deepEqual(envelope.result, {});
});
