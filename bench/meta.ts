/** What results.json records about the run itself: versions, the machine, how busy it was. */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { workerdBinary } from "./workerd.ts";

const ROOT = join(import.meta.dirname, "..");

export interface Durations {
  seconds: number;
  warmup: number;
}

/** Fraction of all CPUs' time spent busy over the next `ms` (the load average lags by minutes). */
export async function machineBusy(ms: number): Promise<number> {
  const sample = () => {
    let idle = 0;
    let total = 0;
    for (const { times } of cpus()) {
      idle += times.idle;
      total += times.user + times.nice + times.sys + times.irq + times.idle;
    }
    return { idle, total };
  };
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  return 1 - (after.idle - before.idle) / Math.max(1, after.total - before.total);
}

export function runMeta(durations: Durations, connections: number, busyBefore: number): Record<string, unknown> {
  const firstLine = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { encoding: "utf8" });
    return `${result.stdout ?? ""}${result.stderr ?? ""}`.split("\n")[0]!.trim();
  };
  return {
    date: new Date().toISOString(),
    commit: firstLine("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    // The bundles come from the working tree: say whether it differed from the commit there.
    uncommitted_changes: firstLine("git", ["-C", ROOT, "status", "--porcelain", "--", "workers", "durable-objects", "policies", "wrangler.toml"]) !== "",
    seconds_per_measurement: durations.seconds,
    warmup_seconds: durations.warmup,
    connections,
    wrk_threads: 1,
    node: process.version,
    workerd: firstLine(workerdBinary(), ["--version"]),
    wrk: firstLine("wrk", ["--version"]),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
    // Busy share of all CPUs in the second before the run: other work there moves every number.
    cpus_busy_before: Math.round(busyBefore * 100) / 100,
  };
}
