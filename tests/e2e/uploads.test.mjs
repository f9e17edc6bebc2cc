// Hostile uploads: bodies over the limit, sent chunked or with a Content-Length the client does
// not keep, clients that go away mid-body, and big bodies refused before they are read. Each
// gets its answer where the client still listens, and the server keeps serving: under
// `wrangler dev` an answer given while the client is still sending used to kill the server (see
// src/body_refusal.rs). Raw sockets, because fetch can neither lie about a length nor hang up
// mid-body.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { BASE, LOCKED, generate, someIp, uniquePrompt } from "./helpers.mjs";

const MiB = 1024 * 1024;
/** The body limit of the end-to-end gateway (MAX_BODY_BYTES in wrangler.toml, env.local). */
const LIMIT = 32 * MiB;
/** How long a client here waits for an answer before it hangs up. */
const PATIENCE_MS = 10_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A raw HTTP/1.1 exchange: `send(socket)` writes the body (or part of it), to its end even when
 * the answer comes first, as HTTP/1.1 clients do; the client hangs up once it has sent and has
 * its whole answer, when the connection closes, after `PATIENCE_MS`, or after `hangUpAfterMs`
 * whatever it got.
 */
function exchange(base, { method = "POST", path = "/", headers, send, hangUpAfterMs }) {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let sent = false;
    let sendFailed = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseAnswer(received), sendFailed });
    };
    const timer = setTimeout(finish, hangUpAfterMs ?? PATIENCE_MS);
    socket.on("data", (d) => {
      received = Buffer.concat([received, d]);
      if (hangUpAfterMs === undefined && sent && parseAnswer(received).complete) finish();
    });
    // A reset while still sending: the client keeps what it got as the answer.
    socket.on("error", () => (sendFailed = true));
    socket.on("close", finish);
    const head = [
      `${method} ${path} HTTP/1.1`,
      `host: ${url.host}`,
      `cf-connecting-ip: ${someIp()}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    send(socket)
      .catch(() => (sendFailed = true))
      .finally(() => {
        sent = true;
        if (hangUpAfterMs === undefined && parseAnswer(received).complete) finish();
      });
  });
}

/** The status and body of an HTTP/1.1 answer with a Content-Length, as far as it came. */
function parseAnswer(bytes) {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return { status: undefined, complete: false };
  const head = bytes.subarray(0, end).toString("latin1");
  const status = Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
  const length = Number(head.match(/\r\ncontent-length: *(\d+)/i)?.[1] ?? NaN);
  const body = bytes.subarray(end + 4);
  return { status, body: body.toString("utf8"), complete: body.length >= length };
}

/** Writes `total` bytes of JSON whitespace in 1 MiB pieces, chunked-encoded when `chunked`. */
async function writeSpaces(socket, total, { chunked = false } = {}) {
  const piece = Buffer.alloc(MiB, 0x20);
  for (let sent = 0; sent < total; sent += piece.length) {
    if (socket.destroyed) throw new Error("the connection closed mid-body");
    const part = piece.subarray(0, Math.min(piece.length, total - sent));
    const framed = chunked ? [Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")] : [part];
    for (const b of framed) {
      if (!socket.write(b)) await new Promise((r) => socket.once("drain", r));
    }
  }
}

/** A POST that generates: the server still serves (`base` locked: with a token). */
async function assertStillServes(base = BASE, headers = {}) {
  const { status } = await generate({ prompt: uniquePrompt("after a hostile upload"), num_steps: 1 }, { base, headers });
  assert.equal(status, 200, "the next POST generates");
}

/** The client sent its whole body: the server did not cut it off to answer early. */
const assertSentInFull = (answer) => assert.equal(answer.sendFailed, false, "the upload was cut off");

function assertTooLarge({ status, body }) {
  assert.equal(status, 413);
  const answer = JSON.parse(body);
  assert.equal(answer.success, false);
  assert.equal(answer.result, null);
  assert.equal(answer.errors[0].code, 3006);
}

test("a chunked body over the limit is a 413, and the next POST generates", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    send: async (s) => {
      await writeSpaces(s, LIMIT + MiB, { chunked: true });
      s.write('e\r\n{"prompt":"a"}\r\n0\r\n\r\n');
    },
  });
  assertTooLarge(answer);
  assertSentInFull(answer);
  await assertStillServes();
});

test("a Content-Length over the limit, the client sending it all: a 413 in the envelope, then service", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "application/json", "content-length": String(LIMIT + MiB) },
    send: (s) => writeSpaces(s, LIMIT + MiB),
  });
  assertTooLarge(answer);
  assertSentInFull(answer);
  await assertStillServes();
});

test("a Content-Length over the limit with a short body: the waiting client gets its 413, hangs up, and the server serves", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "application/json", "content-length": String(LIMIT + 8 * MiB) },
    send: (s) => writeSpaces(s, 64 * 1024),
  });
  assertTooLarge(answer);
  await assertStillServes();
});

test("a Content-Length over the limit with a short body, the client hanging up before any answer: the server serves", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "application/json", "content-length": String(LIMIT + 8 * MiB) },
    send: (s) => writeSpaces(s, 64 * 1024),
    hangUpAfterMs: 50,
  });
  // Hung up before the answer, unless the answer was quicker.
  assert.ok(answer.status === undefined || answer.status === 413, `status ${answer.status}`);
  await sleep(300);
  await assertStillServes();
});

test("a client that hangs up mid-body (within the limit): the server serves", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "application/json", "content-length": String(4 * MiB) },
    send: (s) => writeSpaces(s, MiB),
    hangUpAfterMs: 100,
  });
  assert.equal(answer.status, undefined, "hung up before the answer");
  await sleep(300);
  await assertStillServes();
});

test("a chunked body cut off mid-body: the server serves", async () => {
  await exchange(BASE, {
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    send: (s) => writeSpaces(s, MiB, { chunked: true }),
    hangUpAfterMs: 100,
  });
  await sleep(300);
  await assertStillServes();
});

// Refused before the body is read: the body is let go of all the same.

test("a 415 on a big body sent in full, then service", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "text/plain", "content-length": String(LIMIT + MiB) },
    send: (s) => writeSpaces(s, LIMIT + MiB),
  });
  assert.equal(answer.status, 415);
  assertSentInFull(answer);
  await assertStillServes();
});

test("a 415 on a big declared body the client does not send: it gets its 415, hangs up, the server serves", async () => {
  const answer = await exchange(BASE, {
    headers: { "content-type": "text/plain", "content-length": String(8 * MiB) },
    send: (s) => writeSpaces(s, 64 * 1024),
  });
  assert.equal(answer.status, 415);
  await assertStillServes();
});

test("a 404 on a big chunked body, then service", async () => {
  const answer = await exchange(BASE, {
    path: "/no/such/path",
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    send: async (s) => {
      await writeSpaces(s, 8 * MiB, { chunked: true });
      s.write("0\r\n\r\n");
    },
  });
  assert.equal(answer.status, 404);
  assertSentInFull(answer);
  await assertStillServes();
});

test("a 401 on a big body (locked instance), then service", { skip: !LOCKED && "LOCKED_URL is not set" }, async () => {
  const answer = await exchange(LOCKED, {
    headers: { "content-type": "application/json", "content-length": String(LIMIT + MiB) },
    send: (s) => writeSpaces(s, LIMIT + MiB),
  });
  assert.equal(answer.status, 401);
  assertSentInFull(answer);
  await assertStillServes(LOCKED, { authorization: "Bearer tok-alpha" });
});
