/**
 * What workerd wrote to stderr during the run. The gateway logs there when a Durable Object call
 * fails (it then fails open, so the throughput numbers alone would not show it), and workerd logs
 * uncaught exceptions there: the run records them instead of hiding them.
 */
import { existsSync, readFileSync } from "node:fs";

export interface StderrSummary {
  lines: number;
  /** The first few distinct lines, with how often each occurred. */
  samples: { line: string; count: number }[];
}

export function workerdProblems(stderrFile: string, keep = 5): StderrSummary {
  const lines = (existsSync(stderrFile) ? readFileSync(stderrFile, "utf8") : "").split("\n").filter((line) => line.trim() !== "");
  const counts = new Map<string, number>();
  // Request ids, times and numbers differ between otherwise identical lines.
  for (const line of lines) {
    const shape = line.replace(/[0-9a-f]{16,}/gi, "…").replace(/\d+/g, "N").slice(0, 300);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  return { lines: lines.length, samples: [...counts].slice(0, keep).map(([line, count]) => ({ line, count })) };
}
