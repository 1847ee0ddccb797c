/**
 * The isolate's metrics flush when outcomes arrive while a report is on its way: they must go in a
 * later flush even if no request follows (the last requests before traffic stops). The race is a
 * matter of a few milliseconds of RPC, which no black-box test can hold open, so the shard here is a
 * stand-in whose report() answers when the test says; the whole path is tested in workerd in
 * test/control-plane/metrics.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { SeriesEntry } from "../../common/metrics/store.ts";
import type { MetricsReport } from "../../common/metrics/protocol.ts";
import type { GatewayEnv } from "../../workers/gateway/env.ts";
import type { Outcome } from "../../workers/gateway/outcome.ts";
import { IsolateMetrics, reportMetrics } from "../../workers/gateway/sinks/metrics.ts";

const outcome = (i: number): Outcome => ({
  requestId: String(i), traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: undefined, traceFlags: "00", startedAt: 0,
  method: "GET", host: "api.mesh", path: "/", route: "r", rule: 0, backend: "svc", endpoint: undefined,
  attempts: 0, tries: [], status: 200, reason: undefined, latencyMs: 1, retryBudgetExhausted: false, faults: [],
});

/** A metrics namespace whose shard records each report and answers it when `answer()` is called. */
function standInShard() {
  const reports: SeriesEntry[][] = [];
  const waiting: (() => void)[] = [];
  const stub = { report: (report: { entries: SeriesEntry[] }) => new Promise<void>((done) => { reports.push(report.entries); waiting.push(done); }) };
  const namespace = { idFromName: (name: string) => name, get: () => stub };
  return { reports, answer: () => waiting.shift()?.(), env: { METRICS: namespace, METRICS_FLUSH_INTERVAL_MS: "20" } as unknown as GatewayEnv };
}

const requestsIn = (entries: SeriesEntry[] | undefined) => (entries ?? []).filter((entry) => entry.family === "requests").reduce((sum, entry) => sum + entry.count, 0);

describe("metrics flush", () => {
  it("sends outcomes recorded while a report was in flight, with no request after them", async () => {
    const shard = standInShard();
    const sink = reportMetrics(new IsolateMetrics());
    const first = sink(outcome(1), shard.env); // an isolate's first outcome goes at once
    expect(first).toBeInstanceOf(Promise);
    expect(shard.reports).toHaveLength(1);
    expect(sink(outcome(2), shard.env)).toBeUndefined(); // a flush is on its way: nothing new scheduled
    shard.answer();
    // The next flush comes after the interval, from the one in flight: bounded wait for its report.
    for (let i = 0; i < 200 && shard.reports.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(requestsIn(shard.reports[0])).toBe(1);
    expect(requestsIn(shard.reports[1])).toBe(1);
    shard.answer();
    await first;
    expect(shard.reports).toHaveLength(2); // nothing left: no flush after that
  });

  it("sends a report whose call failed again as it was (same source and number), with the next report, in one call", async () => {
    const sent: MetricsReport[] = [];
    let failNext = true;
    const stub = {
      report: async (report: MetricsReport) => {
        sent.push(structuredClone(report));
        // It landed, but the answer is lost: the isolate cannot tell it from a failure.
        if (failNext) {
          failNext = false;
          throw new Error("timed out");
        }
      },
    };
    const env = { METRICS: { idFromName: (name: string) => name, get: () => stub }, METRICS_FLUSH_INTERVAL_MS: "1" } as unknown as GatewayEnv;
    const sink = reportMetrics(new IsolateMetrics());
    await sink(outcome(1), env);
    expect(sent).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await sink(outcome(2), env);
    expect(sent).toHaveLength(2);
    const { earlier, ...latest } = sent[1]!;
    const { earlier: none, ...first } = sent[0]!;
    expect(none).toEqual([]);
    expect(earlier).toEqual([first]);
    expect(latest.source).toBe(sent[0]!.source);
    expect(latest.seq).toBe(sent[0]!.seq! + 1);
    expect(requestsIn(latest.entries)).toBe(1);
  });

  it("gets every report, once, to a shard that answers every call too late (each lands, each times out)", async () => {
    const taken = new Set<number>();
    let counted = 0;
    const stub = {
      report: async (report: MetricsReport) => {
        for (const batch of [...(report.earlier ?? []), report]) {
          if (taken.has(batch.seq!)) continue;
          taken.add(batch.seq!);
          counted += requestsIn(batch.entries);
        }
        throw new Error("timed out");
      },
    };
    const env = { METRICS: { idFromName: (name: string) => name, get: () => stub }, METRICS_FLUSH_INTERVAL_MS: "1" } as unknown as GatewayEnv;
    const sink = reportMetrics(new IsolateMetrics());
    for (let i = 0; i < 5; i++) {
      await sink(outcome(i), env);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    expect(counted).toBe(5);
  });
});
