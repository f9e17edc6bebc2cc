// Prints the jobs Worker's config for `wrangler dev` (scripts/serve.sh), given serve.sh's
// arguments. `wrangler dev --var KEY:VALUE` sets a var of the first Worker only, but the jobs
// Worker must run with the gateway's settings (the end-to-end tests start instances with some
// changed). Without `--var` this is jobs.wrangler.toml itself; with some, a copy of it under
// .wrangler/ (git-ignored) whose [env.local.vars] carry them, with its paths made absolute and
// the local secrets (.dev.vars) beside it, since wrangler reads those from the config's folder.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CONFIG = "jobs.wrangler.toml";

/** The `--var KEY:VALUE` (or `--var=KEY:VALUE`) settings among wrangler dev's arguments. */
export function varsOf(args) {
  const vars = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = arg === "--var" ? args[++i] : arg.startsWith("--var=") ? arg.slice(6) : null;
    if (value == null) continue;
    const colon = value.indexOf(":");
    if (colon > 0) vars.push([value.slice(0, colon), value.slice(colon + 1)]);
  }
  return vars;
}

/** `text` (the jobs config) with `vars` set in [env.local.vars] and its paths under `base`. */
export function withVars(text, vars, base) {
  const lines = text.split("\n");
  const start = lines.indexOf("[env.local.vars]");
  if (start < 0) throw new Error(`${CONFIG} has no [env.local.vars]`);
  let end = lines.findIndex((line, i) => i > start && line.startsWith("["));
  if (end < 0) end = lines.length;
  for (const [key, value] of vars) {
    const setting = `${key} = ${JSON.stringify(value)}`;
    const at = lines.findIndex((line, i) => i > start && i < end && line.startsWith(`${key} =`));
    if (at >= 0) {
      lines[at] = setting;
    } else {
      lines.splice(end, 0, setting);
      end++;
    }
  }
  return lines
    .join("\n")
    .replace(/^main = "(.*)"$/m, (_, main) => `main = ${JSON.stringify(join(base, main))}`)
    .replace(
      /^command = "bash scripts\/build-worker.sh \. jobs"$/m,
      `command = ${JSON.stringify(`bash ${join(base, "scripts", "build-worker.sh")} ${base} jobs`)}`,
    )
    .replace(/^watch_dir = "(.*)"$/m, (_, dir) => `watch_dir = ${JSON.stringify(join(base, dir))}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const vars = varsOf(process.argv.slice(2));
  if (vars.length === 0) {
    process.stdout.write(CONFIG);
  } else {
    const text = withVars(readFileSync(join(root, CONFIG), "utf8"), vars, root);
    const dir = join(root, ".wrangler", "jobs-config", createHash("sha256").update(text).digest("hex").slice(0, 16));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "wrangler.toml"), text);
    if (existsSync(join(root, ".dev.vars"))) copyFileSync(join(root, ".dev.vars"), join(dir, ".dev.vars"));
    process.stdout.write(join(dir, "wrangler.toml"));
  }
}
