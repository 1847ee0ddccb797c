/**
 * Background work on `ctx.waitUntil` that the platform cut off must not leave its "running" flag
 * set for the isolate's life (sinks/background.ts): a flag older than STALE_AFTER_MS is taken for a
 * dead run, so the next request starts a new export or flush.
 */
import { describe, expect, it } from "vitest";
import { running, RUN_BUDGET_MS, STALE_AFTER_MS } from "../../workers/gateway/sinks/background.ts";
import { IsolateMetrics } from "../../workers/gateway/sinks/metrics.ts";
import { TraceQueue } from "../../workers/gateway/sinks/traces.ts";

describe("background runs", () => {
  it("count as running only until STALE_AFTER_MS, past the platform's 30 s for waitUntil", () => {
    const now = 1_800_000_000_000;
    expect(running(0, now)).toBe(false);
    expect(running(now - 1_000, now)).toBe(true);
    expect(running(now - STALE_AFTER_MS, now)).toBe(false);
    expect(RUN_BUDGET_MS).toBeLessThan(30_000);
    expect(STALE_AFTER_MS).toBeGreaterThan(30_000);
  });

  it("a trace export or metrics flush cut off long ago no longer blocks the next", () => {
    const queue = new TraceQueue();
    const metrics = new IsolateMetrics();
    queue.exportingSince = metrics.flushingSince = Date.now();
    expect([queue.exporting, metrics.flushScheduled]).toEqual([true, true]);
    queue.exportingSince = metrics.flushingSince = Date.now() - STALE_AFTER_MS - 1;
    expect([queue.exporting, metrics.flushScheduled]).toEqual([false, false]);
  });
});
