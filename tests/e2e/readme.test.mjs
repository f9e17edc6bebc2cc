// Every example command in README.md and docs/*.md, run as a user would run it (with curl, in
// bash, from a directory holding `photo.png` and `mask.png`) against this gateway, and checked
// against the outcome the document shows. Keeps the examples true.
//
// What counts as an example: each command of a fenced ```sh block that calls curl on
// http://127.0.0.1:8787 (or localhost:8787), which is rewritten to the test's base URL. A
// command may span lines ending in `\`. What it must answer is read from the lines right after
// it:
//   # HTTP/1.1 200 OK          the status
//   # content-type: image/png  a response header, exactly (name case-insensitive)
//   # {"armed":true}           the body as JSON; `…` stands for any value; objects may hold more
//                              members than shown, arrays must match element for element
//   # 503                      what `-w '%{http_code}\n'` prints: the status, printed
// and a ```json block right after the ```sh block is the JSON body of its last command. A
// command with no stated outcome must answer 2xx.
//
// `README_DOCS` (comma-separated paths) checks other files instead, e.g. a copy with one status
// changed, to see this test fail.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BASE, someIp } from "./helpers.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOCS = process.env.README_DOCS
  ? process.env.README_DOCS.split(",").map((p) => resolve(root, p))
  : [join(root, "README.md"), ...listDocs(join(root, "docs"))];

function listDocs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => join(dir, f));
}

/** A run of its own, so counters of the stand-in's example start from zero on every run. */
const RUN = `${process.pid}x${Date.now().toString(36)}`;
/**
 * Rewrites applied to every command before it runs: the base URL, and a prompt that counts its
 * runs made unique to this run (the stand-in keeps its counters while the server lives).
 */
const rewrite = (command) =>
  command
    .replaceAll("http://127.0.0.1:8787", BASE)
    .replaceAll("http://localhost:8787", BASE)
    .replaceAll("a flaky cat", `a flaky cat ${RUN}`)
    .replaceAll("a%20flaky%20cat", `a%20flaky%20cat%20${RUN}`);

/**
 * Commands that are documented but not run here, each with its reason. Kept short: every entry is
 * an example no test checks.
 */
const NOT_RUN = [
  {
    match: /-X DELETE \S*\/__standin\/arm\b/,
    why: "disarms every armed fault of the stand-in, including those of tests running beside this one",
  },
];

/** Every example in `text`: `{ line, command, expect: { status, headers, json, stdout } }`. */
export function examples(text) {
  const lines = text.split("\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith("```")) end++;
    const block = lines.slice(start, end);
    const inBlock = [];
    for (let j = 0; j < block.length; j++) {
      let raw = block[j].replace(/^\$ /, "");
      if (!/^\s*curl\b/.test(raw)) continue;
      const line = start + j + 1;
      let command = raw;
      while (command.trimEnd().endsWith("\\") && j + 1 < block.length) {
        command = command.trimEnd().slice(0, -1) + " " + block[++j].trim();
      }
      // A trailing comment on the command's own line is prose, not part of the command.
      command = stripTrailingComment(command);
      if (!/(127\.0\.0\.1|localhost):8787/.test(command)) continue;
      const expect = { status: null, headers: [], json: null, stdout: [] };
      while (j + 1 < block.length && /^#\s/.test(block[j + 1])) {
        const note = block[++j].replace(/^#\s/, "").trim();
        let m;
        if ((m = /^HTTP\/[\d.]+ (\d{3})\b/.exec(note))) expect.status = Number(m[1]);
        else if (/^[{[]/.test(note)) expect.json = parseLoose(note);
        else if ((m = /^([A-Za-z][A-Za-z0-9-]*): (.*)$/.exec(note))) expect.headers.push([m[1].toLowerCase(), m[2]]);
        else if (/^\d{3}$/.test(note)) {
          // What `-w '%{http_code}\n'` prints: the status.
          expect.stdout.push(note);
          expect.status ??= Number(note);
        }
      }
      const entry = { line, command, expect };
      found.push(entry);
      inBlock.push(entry);
    }
    // A ```json block right after: the body of the block's last command.
    let k = end + 1;
    while (k < lines.length && lines[k].trim() === "") k++;
    if (inBlock.length && lines[k] === "```json") {
      let e = k + 1;
      while (e < lines.length && !lines[e].startsWith("```")) e++;
      inBlock.at(-1).expect.json = parseLoose(lines.slice(k + 1, e).join("\n"));
    }
    i = end;
  }
  return found;
}

function stripTrailingComment(command) {
  // Outside quotes, ` # ...` starts a comment.
  let quote = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && /\s/.test(command[i - 1] ?? "")) return command.slice(0, i).trimEnd();
  }
  return command;
}

const ANY = Symbol("any");
/** JSON in which `…` stands for any value. */
function parseLoose(text) {
  const marker = "\u0000any\u0000";
  return JSON.parse(text.replaceAll("…", JSON.stringify(marker)), (_, v) => (v === marker ? ANY : v));
}

/** Whether `actual` matches `expected`: `ANY` matches anything; objects may have more members. */
function matches(actual, expected, path = "") {
  if (expected === ANY) return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path || "body"} should be an array`);
    assert.equal(actual.length, expected.length, `${path || "body"} should have ${expected.length} elements`);
    expected.forEach((e, i) => matches(actual[i], e, `${path}/${i}`));
  } else if (expected && typeof expected === "object") {
    assert.ok(actual && typeof actual === "object", `${path || "body"} should be an object`);
    for (const [k, v] of Object.entries(expected)) matches(actual[k], v, `${path}/${k}`);
  } else {
    assert.deepEqual(actual, expected, `${path || "body"}`);
  }
}

const work = mkdtempSync(join(tmpdir(), "readme-examples-"));
copyFileSync(join(root, "tests", "fixtures", "photo-256.png"), join(work, "photo.png"));
copyFileSync(join(root, "tests", "fixtures", "mask-256.png"), join(work, "mask.png"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs one command in bash; answers its status, headers, stdout. */
function run(command) {
  const headersFile = join(work, "headers.txt");
  rmSync(headersFile, { force: true });
  // The headers go to a file of ours too (curl keeps the last -D), and a client address of the
  // test's own keeps the examples clear of the rate limit other tests use.
  const full = `${command} -D ${headersFile} -H 'cf-connecting-ip: ${someIp()}'`;
  const stdout = execFileSync("bash", ["-o", "pipefail", "-c", full], {
    cwd: work,
    encoding: "latin1",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  const headerText = readFileSync(headersFile, "latin1");
  // The last response's head (curl writes one per response).
  const heads = headerText.split(/\r?\n\r?\n/).filter((h) => h.trim());
  const head = heads.at(-1).split(/\r?\n/);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head[0])[1]);
  const headers = new Map();
  for (const line of head.slice(1)) {
    const at = line.indexOf(":");
    if (at > 0) headers.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
  }
  return { status, headers, stdout };
}

let total = 0;
for (const file of DOCS) {
  const name = relative(root, file);
  const found = examples(readFileSync(file, "utf8"));
  total += found.length;
  // One test per file, its examples in order: later ones may rely on earlier ones (MISS, then HIT).
  test(`${name}: every example answers what the document shows`, { skip: found.length === 0 }, () => {
    for (const { line, command, expect } of found) {
      const skip = NOT_RUN.find((s) => s.match.test(command));
      if (skip) continue;
      const where = `${name}:${line}: ${command}`;
      const got = run(rewrite(command));
      if (expect.status !== null) assert.equal(got.status, expect.status, where);
      else assert.ok(got.status >= 200 && got.status < 300, `${where}: answered ${got.status}`);
      for (const [h, v] of expect.headers) assert.equal(got.headers.get(h), v, `${where}: header ${h}`);
      if (expect.json !== null) {
        let body;
        // `curl -i` prints each response's head before the body: the body is what follows them.
        let text = got.stdout;
        while (/^HTTP\/[\d.]+ \d{3}/.test(text)) text = text.slice(text.search(/\r?\n\r?\n/)).trimStart();
        try {
          body = JSON.parse(text);
        } catch {
          assert.fail(`${where}: the body is not JSON: ${got.stdout.slice(0, 200)}`);
        }
        try {
          matches(body, expect.json);
        } catch (e) {
          e.message = `${where}: ${e.message}`;
          throw e;
        }
      }
      for (const printed of expect.stdout) assert.ok(got.stdout.split(/\r?\n/).includes(printed), `${where}: prints ${printed}`);
    }
  });
}

test("the documents have examples to check", { skip: Boolean(process.env.README_DOCS) }, () => {
  assert.ok(total >= 8, `only ${total} examples found`);
});
