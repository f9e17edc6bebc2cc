// Where the benchmark runs from, and running its commands.
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo"), "bin");
export const env = { ...process.env, PATH: `${cargoBin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };

/** Runs a command quietly; on failure shows its output and stops. */
export function run(cmd, args, { cwd = root } = {}) {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    console.error(e.stdout ?? "", e.stderr ?? "");
    throw new Error(`${cmd} ${args.join(" ")} failed`);
  }
}

export const log = (...a) => console.error("[bench]", ...a);

/** The value after `name` on the command line (`--rounds 3`), or `fallback`. */
export function option(name, fallback = undefined) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
}
