// The entry module's pure parts (src/entry-replay.js): the replay cache's bound, what is
// fingerprinted, and the log line, which must be the one Rust writes (tests/fixtures/replay-log.json,
// also checked by core/src/replay.rs).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  Callers,
  MAX_BODY,
  ReplayCache,
  candidate,
  emptiesTiers,
  fingerprint,
  lineMiddle,
  readNote,
  replayLine,
  rustFloat,
} from "../../src/entry-replay.js";

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/replay-log.json", import.meta.url), "utf8"),
);

test("a replay writes the line Rust writes for the same request", () => {
  // The header value as the Wasm sends it: the note's JSON, percent-encoded.
  const value = fixture.note;
  const note = readNote(value);
  assert.equal(note.rateKey, "ip:203.0.113.9");
  assert.equal(note.cap, 4096);
  const line = replayLine(lineMiddle(note.logText), "r-1", { validate: 0, cache: 1, ai: 0 }, 3);
  assert.equal(line, fixture.rust_line);
  assert.deepEqual(JSON.parse(line), JSON.parse(fixture.rust_line));
});

test("a log line of another shape is not used", () => {
  assert.equal(lineMiddle('{"request_id":"x","status":200,"ms":{}}'), null);
  assert.equal(lineMiddle('{"request_id":"","status":200}'), null);
});

test("numbers are written as serde_json writes an f64", () => {
  assert.equal(rustFloat(0), "0.0");
  assert.equal(rustFloat(12), "12.0");
  assert.equal(rustFloat(0.5), "0.5");
  assert.equal(rustFloat(1.25), "1.25");
});

test("the cache keeps within its cap, least recently used out first", () => {
  const cache = new ReplayCache();
  const entry = (size) => ({ size });
  cache.put("a", entry(40), 100);
  cache.put("b", entry(40), 100);
  assert.ok(cache.get("a"), "a is now the most recent");
  cache.put("c", entry(40), 100);
  assert.equal(cache.get("b"), undefined, "b was the least recently used");
  assert.ok(cache.get("a") && cache.get("c"));
  assert.equal(cache.bytes, 80);
  cache.put("big", entry(101), 100);
  assert.equal(cache.get("big"), undefined, "larger than the cap: never kept");
  cache.put("a", entry(10), 100);
  assert.equal(cache.bytes, 50, "a replaced, not counted twice");
  assert.ok(cache.peak <= 100);
  cache.put("d", entry(60), 50);
  assert.ok(cache.bytes <= 50, "a smaller cap evicts down to it");
  cache.clear();
  assert.equal(cache.bytes, 0);
});

test("every header that shapes the answer, the method, the URL and the body are in the fingerprint; the caller is not", () => {
  const base = {
    accept: "image/png",
    origin: "http://127.0.0.1:5173",
    "cache-control": "max-age=0",
    pragma: "x",
    "content-type": "application/json",
  };
  const body = new TextEncoder().encode('{"prompt":"a","seed":1}');
  const key = (headers, b = body, method = "POST", url = "https://h/") =>
    fingerprint(method, url, new Headers(headers), b);
  const same = key(base);
  assert.equal(key({ ...base }), same);
  assert.equal(key({ ...base, "cf-ray": "other", "user-agent": "x" }), same, "unread headers");
  const caller = { authorization: "Bearer t", "cf-connecting-ip": "203.0.113.9" };
  assert.equal(key({ ...base, ...caller }), same, "the caller: Callers, not the fingerprint");
  for (const name of Object.keys(base)) {
    assert.notEqual(key({ ...base, [name]: `${base[name]}!` }), same, name);
    const without = { ...base };
    delete without[name];
    assert.notEqual(key(without), same, `${name} absent`);
    assert.notEqual(key({ ...base, [name]: "" }), key(without), `${name} empty vs absent`);
  }
  assert.notEqual(key(base, new TextEncoder().encode('{"prompt":"a","seed":2}')), same);
  assert.notEqual(key(base, body, "GET"), same);
  assert.notEqual(key(base, body, "POST", "https://h/?x"), same);
  assert.notEqual(key(base, new Uint8Array([0xc3, 0xa9])), key(base, new Uint8Array([0xe9])));
});

test("callers are named as the Wasm names them, and only once it has said how", () => {
  const h = (headers) => new Headers(headers);
  const anonymous = new Callers();
  assert.equal(anonymous.rateKey(h({ "cf-connecting-ip": "192.0.2.1" })), undefined, "nothing learned");
  anonymous.learn(h({ "cf-connecting-ip": "192.0.2.1" }), "ip:192.0.2.1");
  assert.equal(anonymous.rateKey(h({ "cf-connecting-ip": "192.0.2.7" })), "ip:192.0.2.7");
  assert.equal(
    anonymous.rateKey(h({ "cf-connecting-ip": "192.0.2.7", authorization: "Bearer x" })),
    "ip:192.0.2.7",
    "credentials are not checked with anonymous access on",
  );
  assert.equal(anonymous.rateKey(h({})), "ip:unknown");
  assert.equal(anonymous.rateKey(h({ "cf-connecting-ip": "" })), "ip:unknown");

  const tokens = new Callers(2);
  tokens.learn(h({ authorization: "Bearer a" }), "token:aaaa");
  assert.equal(tokens.rateKey(h({ authorization: "Bearer a", "cf-connecting-ip": "192.0.2.1" })), "token:aaaa");
  assert.equal(tokens.rateKey(h({ authorization: "Bearer b" })), undefined, "not accepted yet");
  assert.equal(tokens.rateKey(h({ authorization: "bearer a" })), undefined, "only the exact value");
  assert.equal(tokens.rateKey(h({})), undefined, "no credentials: the Wasm answers 401");
  tokens.learn(h({ authorization: "Bearer b" }), "token:bbbb");
  tokens.learn(h({ authorization: "Bearer c" }), "token:cccc");
  assert.equal(tokens.rateKey(h({ authorization: "Bearer a" })), undefined, "the oldest out");
  assert.equal(tokens.rateKey(h({ authorization: "Bearer c" })), "token:cccc");
  tokens.learn(h({ authorization: `Bearer ${"x".repeat(600)}` }), "token:dddd");
  assert.equal(tokens.rateKey(h({ authorization: `Bearer ${"x".repeat(600)}` })), undefined);
  tokens.clear();
  assert.equal(tokens.rateKey(h({ authorization: "Bearer c" })), undefined);
});

test("only GET and small stated POSTs without If-None-Match are fingerprinted", () => {
  const req = (method, headers = {}, body = undefined) =>
    new Request("https://h/", { method, headers, body });
  assert.ok(candidate(req("GET")));
  assert.ok(candidate(req("POST", { "content-length": "10" }, "0123456789")));
  assert.ok(!candidate(req("POST", { "content-length": String(MAX_BODY + 1) }, "x".repeat(MAX_BODY + 1))));
  assert.ok(!candidate(req("HEAD")));
  assert.ok(!candidate(req("DELETE")));
  assert.ok(!candidate(req("GET", { "if-none-match": '"a"' })));
  assert.ok(!candidate(req("POST", { "if-none-match": "*", "content-length": "1" }, "x")));
});

test("requests asking not to use the cache are not fingerprinted (never replayable)", () => {
  const req = (headers) =>
    new Request("https://h/", { method: "POST", headers: { "content-length": "1", ...headers }, body: "x" });
  assert.ok(!candidate(req({ "cache-control": "no-store" })));
  assert.ok(!candidate(req({ "cache-control": "max-age=0, No-Cache" })));
  assert.ok(!candidate(req({ pragma: "no-cache" })));
  assert.ok(candidate(req({ "cache-control": "max-age=60" })));
  assert.ok(candidate(req({ pragma: "x" })));
});

test("only the local admin route that empties a tier empties the replays", () => {
  assert.equal(emptiesTiers("DELETE", "/__admin/cache-api/abc", 200, true), true);
  assert.equal(emptiesTiers("DELETE", "/__admin/cache-api/abc", 200, false), false, "production");
  assert.equal(emptiesTiers("DELETE", "/__admin/cache-api/abc", 404, true), false);
  assert.equal(emptiesTiers("GET", "/__admin/memory", 200, true), false);
  assert.equal(emptiesTiers("GET", "/images/x/__admin/cache-api/y", 200, true), false);
  assert.equal(emptiesTiers("POST", "/", 200, true), false);
});
