// The OpenAPI document, checked by a real OpenAPI 3.1 validator and against what is served.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { BASE, api } from "./helpers.mjs";

test("GET /openapi.json is a valid OpenAPI 3.1 document of every model's routes", async () => {
  const res = await api(`${BASE}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  const validator = new Validator();
  const verdict = await validator.validate(doc);
  assert.equal(verdict.valid, true, JSON.stringify(verdict.errors, null, 1)?.slice(0, 2000));
  assert.equal(validator.version, "3.1");

  const { models } = await (await api(`${BASE}/models`)).json();
  for (const m of models) {
    const run = doc.paths[`/ai/run/${m.id}`];
    assert.ok(run?.post && run?.get, m.id);
    assert.ok(doc.paths[`/client/v4/accounts/{account_id}/ai/run/${m.id}`]?.post, m.id);
    const ref = run.post.requestBody.content["application/json"].schema.$ref;
    const schema = doc.components.schemas[ref.split("/").pop()];
    assert.deepEqual(schema, m.input_schema);
  }
  const lightning = doc.components.schemas["bytedance.stable-diffusion-xl-lightning"];
  assert.deepEqual(
    [lightning.properties.num_steps.maximum, lightning.properties.num_steps.default],
    [20, 20],
  );
});

test("the validator used above does refuse a broken document", async () => {
  const doc = await (await api(`${BASE}/openapi.json`)).json();
  delete doc.info;
  doc.paths["/models"].get.responses = "not an object";
  const verdict = await new Validator().validate(doc);
  assert.equal(verdict.valid, false);
});
