/** The dashboard's data: golden metrics per minute across shards, route vs attempt totals, the recent-requests ring. */
import { describe, expect, it } from "vitest";
import { MetricStore } from "../../common/metrics/store.ts";
import { minuteSeries, serviceTotals } from "../../workers/admin/golden.ts";
import type { Outcome } from "../../workers/gateway/outcome.ts";
import { RecentOutcomes } from "../../workers/gateway/sinks/recent.ts";

const labels = (service: string, code: string) => ["web", "spiffe://edgemesh.local/ns/default/sa/web", service, "r", code, ""];
const store = (fill: (s: MetricStore) => void) => {
  const s = new MetricStore();
  fill(s);
  return s.toEntries();
};

describe("golden metrics per minute", () => {
  it("sums the shards' rows per minute, fills missing minutes, and rates the current minute by its elapsed time", () => {
    const now = 100 * 60_000 + 30_000; // 30 s into minute 100
    const shardA = [
      { minute: 98, entries: store((s) => { s.inc("requests", labels("up", "200"), 9); s.inc("requests", labels("up", "503"), 1); for (let i = 0; i < 10; i++) s.observe("requestDuration", labels("up", "200").slice(0, 5), 0.02); }) },
      { minute: 100, entries: store((s) => s.inc("requests", labels("up", "200"), 15)) },
    ];
    const shardB = [{ minute: 98, entries: store((s) => s.inc("requests", labels("up", "200"), 10)) }, { minute: 90, entries: store((s) => s.inc("requests", labels("up", "200"), 1)) }];
    const points = minuteSeries([shardA, shardB], 3, now);
    expect(points.map((p) => p.at)).toEqual([98 * 60_000, 99 * 60_000, 100 * 60_000]);
    expect(points.map((p) => p.requests)).toEqual([20, 0, 15]);
    expect(points[0]!.successRate).toBeCloseTo(19 / 20, 10);
    expect(points[1]!.successRate).toBeNull();
    expect(points[0]!.requestsPerSecond).toBeCloseTo(20 / 60, 10);
    expect(points[2]!.requestsPerSecond).toBeCloseTo(15 / 30, 10);
    expect(points[0]!.latencySeconds.p50).toBeGreaterThan(0.01);
    expect(points[0]!.latencySeconds.p50).toBeLessThanOrEqual(0.025);
    expect(points[1]!.latencySeconds).toEqual({ p50: null, p95: null, p99: null });
  });

  it("puts route level beside attempt level per service, busiest first", () => {
    const s = new MetricStore();
    s.inc("requests", labels("a", "200"), 10);
    s.inc("requests", labels("a", "502"), 2);
    s.inc("attempts", ["web", "a", "http://e1", "503", "5xx"], 6);
    s.inc("attempts", ["web", "a", "http://e1", "200", "success"], 10);
    s.inc("retries", ["a", "r"], 4);
    s.inc("rateLimited", ["web", "b", "r"], 3);
    s.inc("requests", labels("b", "429"), 3);
    expect(serviceTotals(s)).toEqual([
      { service: "a", requests: 12, requestFailures: 2, attempts: 16, attemptFailures: 6, retries: 4, rateLimited: 0 },
      { service: "b", requests: 3, requestFailures: 0, attempts: 0, attemptFailures: 0, retries: 0, rateLimited: 3 },
    ]);
  });
});

describe("recent requests", () => {
  const outcome = (n: number, extra: Partial<Outcome> = {}) =>
    ({ requestId: `r${n}`, traceId: "t".repeat(32), traceFlags: "01", startedAt: n, method: "GET", host: "h.test", path: `/${n}`, status: 200, latencyMs: 1, attempts: 1, tries: [], ...extra }) as unknown as Outcome;

  it("keeps the last `capacity` outcomes, newest first, in fixed memory", () => {
    const recent = new RecentOutcomes(3);
    expect(recent.list()).toEqual([]);
    for (let n = 1; n <= 5; n++) recent.push(outcome(n));
    expect(recent.list().map((r) => r.requestId)).toEqual(["r5", "r4", "r3"]);
    expect(recent.list(2).map((r) => r.requestId)).toEqual(["r5", "r4"]);
  });

  it("cuts long request-derived text and names the caller or its refusal", () => {
    const recent = new RecentOutcomes(2);
    recent.push(outcome(1, { path: `/${"x".repeat(5_000)}`, source: { refused: "missing_token" } }));
    recent.push(outcome(2, { source: { id: "spiffe://edgemesh.local/ns/default/sa/web", via: "binding" } }));
    const [second, first] = recent.list();
    expect(first!.path.length).toBe(257);
    expect(first!.source).toBe("refused: missing_token");
    expect(second!.source).toBe("spiffe://edgemesh.local/ns/default/sa/web");
    expect(second!.sampled).toBe(true);
  });
});
