// CPU time spent by workerd, read from /proc: a cost per request that other work on the machine
// moves much less than it moves throughput (a busy machine delays requests; it does not make
// them cost more instructions). Linux only; elsewhere every reading is null.
import { readFileSync, readdirSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux the bench runs on

function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/** The workerd processes started under `pid` (the bench server's node process). */
export function workerdPids(pid) {
  const found = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift();
    for (const child of childrenOf(p)) {
      try {
        if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === "workerd") found.push(child);
      } catch {
        continue;
      }
      queue.push(child);
    }
  }
  return found;
}

/** User + system CPU milliseconds used so far by `pids` together, or null off Linux. */
export function cpuMs(pids) {
  if (pids.length === 0) return null;
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return null;
    }
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}
