// The two Workers' configurations agree: the jobs Worker (jobs.wrangler.toml) makes images with
// the gateway's code, so it must run with the gateway's settings, and the gateway's service
// binding must name it. Read line by line: both files keep every setting on one line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const read = (name) => readFileSync(new URL(`../../${name}`, import.meta.url), "utf8");

/** The `key = "value"` lines of each table, by table name ("" for the top level). */
export function tables(text) {
  const out = new Map([["", new Map()]]);
  let current = out.get("");
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const header = line.match(/^\[\[?([^\]]+)\]\]?$/);
    if (header) {
      if (!out.has(header[1])) out.set(header[1], new Map());
      current = out.get(header[1]);
      continue;
    }
    const setting = line.match(/^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/);
    if (setting) current.set(setting[1], setting[2]);
  }
  return out;
}

const gateway = tables(read("wrangler.toml"));
const jobs = tables(read("jobs.wrangler.toml"));

for (const table of ["vars", "env.local.vars"]) {
  test(`the jobs Worker's [${table}] are the gateway's`, () => {
    const ours = gateway.get(table);
    const theirs = jobs.get(table);
    assert.ok(ours?.size > 5, `wrangler.toml has a [${table}] table`);
    for (const [key, value] of ours) {
      assert.equal(theirs.get(key), value, `${key} in jobs.wrangler.toml's [${table}]`);
    }
    // Only the jobs' own secret (a fixed one for local runs) may be added.
    const extra = [...theirs.keys()].filter((k) => !ours.has(k));
    assert.deepEqual(extra, table === "env.local.vars" ? ["WEBHOOK_SECRETS"] : []);
  });
}

test("both Workers bind the same IMAGES bucket, in production and locally: the gateway's permalinks read the jobs' images there", () => {
  for (const table of ["r2_buckets", "env.local.r2_buckets"]) {
    for (const [file, config] of [["wrangler.toml", gateway], ["jobs.wrangler.toml", jobs]]) {
      assert.equal(config.get(table)?.get("binding"), '"IMAGES"', `${file} [[${table}]]`);
    }
    assert.ok(gateway.get(table).get("bucket_name"), table);
    assert.equal(jobs.get(table).get("bucket_name"), gateway.get(table).get("bucket_name"), table);
  }
});

test("the jobs Worker counts against the gateway's rate limiter, in production and locally", () => {
  for (const table of ["ratelimits", "env.local.ratelimits"]) {
    assert.ok(gateway.get(table)?.size > 0, `wrangler.toml has ${table}`);
    assert.deepEqual([...jobs.get(table)], [...gateway.get(table)], table);
  }
});

test("the gateway's service binding names the jobs Worker, in production and locally; the local one has a name of its own", () => {
  const name = jobs.get("").get("name");
  const local = jobs.get("env.local").get("name");
  assert.notEqual(local, name, "deploying -e local must not replace the production Worker");
  assert.ok(gateway.get("").get("services").includes(`{ binding = "JOBS_WORKER", service = ${name} }`));
  assert.ok(
    read("wrangler.toml").split("\n[env.local]\n")[1].includes(`{ binding = "JOBS_WORKER", service = ${local} }`),
  );
});

/** The Durable Object classes a config binds (`class_name` lines), in order. */
const classes = (name) => [...read(name).matchAll(/^class_name = "([^"]+)"$/gm)].map((m) => m[1]);

test("the jobs' Durable Objects and queues are the jobs Worker's alone, which has no public address", () => {
  for (const table of ["queues.producers", "queues.consumers"]) {
    assert.ok(jobs.has(table) && jobs.has(`env.local.${table}`), `jobs.wrangler.toml has ${table}`);
    assert.ok(!gateway.has(table) && !gateway.has(`env.local.${table}`), `wrangler.toml has no ${table}`);
  }
  // Production and local bind the same classes: each Worker its own.
  const jobsClasses = ["JobObject", "CallerObject", "QuotaObject"];
  assert.deepEqual(classes("jobs.wrangler.toml"), [...jobsClasses, ...jobsClasses]);
  // The gateway binds one: the budgets' class, the jobs Worker's.
  assert.deepEqual(classes("wrangler.toml"), ["QuotaObject", "QuotaObject"]);
  assert.deepEqual(
    [...read("wrangler.toml").matchAll(/^script_name = "([^"]+)"$/gm)].map((m) => m[1]),
    [jobs.get("").get("name").replaceAll('"', ""), jobs.get("env.local").get("name").replaceAll('"', "")],
  );
  assert.ok(!gateway.has("migrations"), "the gateway declares no class of its own");
  assert.equal(jobs.get("").get("workers_dev"), "false");
});

test("local runs: the jobs Worker gets the `--var`s serve.sh was given, in a copy of its config", async () => {
  const { varsOf, withVars } = await import("../../scripts/jobs-config.mjs");
  const vars = varsOf(["--persist-to", "x", "--var", "ALLOW_ANONYMOUS:false", "--var=API_TOKENS:a,b:c", "--var", "NEW:1"]);
  assert.deepEqual(vars, [["ALLOW_ANONYMOUS", "false"], ["API_TOKENS", "a,b:c"], ["NEW", "1"]]);
  const copy = tables(withVars(read("jobs.wrangler.toml"), vars, "/base"));
  const local = copy.get("env.local.vars");
  assert.equal(local.get("ALLOW_ANONYMOUS"), '"false"');
  assert.equal(local.get("API_TOKENS"), '"a,b:c"');
  assert.equal(local.get("NEW"), '"1"');
  // Production's settings and the rest of the local ones are left as they are.
  assert.equal(copy.get("vars").get("ALLOW_ANONYMOUS"), jobs.get("vars").get("ALLOW_ANONYMOUS"));
  assert.equal(local.get("AI_RETRIES"), jobs.get("env.local.vars").get("AI_RETRIES"));
  assert.equal(copy.get("").get("main"), '"/base/build-jobs/index.js"');
  assert.equal(copy.get("build").get("command"), '"bash /base/scripts/build-worker.sh /base jobs"');
  assert.equal(copy.get("build").get("watch_dir"), '"/base/src"');
});

test("the rehearsal serves the production top level of both configs, changing only the AI binding and paths", async () => {
  const { rehearsalConfig, topLevel } = await import("../../scripts/rehearse.mjs");
  for (const file of ["wrangler.toml", "jobs.wrangler.toml"]) {
    const production = tables(topLevel(read(file)));
    const rehearsed = tables(rehearsalConfig(read(file), { base: "/base" }));
    assert.ok(![...rehearsed.keys()].some((t) => t.startsWith("env.")), `${file}: no environment`);
    assert.equal(production.get("ai")?.get("binding"), '"AI"', `${file} binds the real Workers AI`);
    assert.ok(!rehearsed.has("ai"), `${file}: [ai] replaced`);
    // Paths made absolute; AI bound to the relay beside the rest of the services.
    const changed = {
      "": {
        main: (v) => v === JSON.stringify(`/base/${JSON.parse(production.get("").get("main"))}`),
        services: (v) =>
          v.endsWith('{ binding = "AI", service = "sdxl-ai-relay" }]') &&
          v.startsWith((production.get("").get("services") ?? "[").replace(/\]$/, "")),
      },
      assets: { directory: (v) => v === '"/base/playground"' },
      build: { watch_dir: (v) => v === '"/base/src"' },
    };
    for (const [table, settings] of production) {
      if (table === "ai") continue;
      for (const [key, value] of settings) {
        const check = changed[table]?.[key];
        const theirs = rehearsed.get(table)?.get(key);
        if (check) assert.ok(check(theirs), `${file} [${table}] ${key} = ${theirs}`);
        else assert.equal(theirs, value, `${file} [${table}] ${key}`);
      }
    }
    assert.deepEqual([...rehearsed.keys()].sort(), [...production.keys()].filter((t) => t !== "ai").sort());
    for (const [table, settings] of rehearsed) {
      const added = [...settings.keys()].filter((k) => !production.get(table).has(k));
      assert.deepEqual(added, table === "" && !production.get("").has("services") ? ["services"] : [], `${file} [${table}]`);
    }
    assert.match(rehearsed.get("").get("services"), /\{ binding = "AI", service = "sdxl-ai-relay" \}\]$/);
  }
});
