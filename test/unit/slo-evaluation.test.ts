/** The SLO arithmetic (durable-objects/slo-evaluation.ts): burn rates, budgets, and when each alert holds. */
import { describe, expect, it } from "vitest";
import { FAMILIES } from "../../common/metrics/families.ts";
import type { SloCounts } from "../../common/metrics/protocol.ts";
import { evaluateObjective } from "../../durable-objects/slo-evaluation.ts";
import { ServiceLevelObjective } from "../../policies/schema/index.ts";

const BOUNDS = FAMILIES.requestDuration.buckets;
const slo = (spec: Record<string, unknown>) =>
  ServiceLevelObjective.parse({ apiVersion: "edgemesh.dev/v1alpha1", kind: "ServiceLevelObjective", metadata: { name: "s" }, spec: { backend: "b", ...spec } });

/** Counts with `total` requests, `errors` of them 5xx, and `slow` of them in the +Inf bucket (the rest in the first). */
const counts = (total: number, errors: number, slow = 0): SloCounts => {
  const buckets = new Array(BOUNDS.length + 1).fill(0);
  buckets[0] = total - slow;
  buckets[BOUNDS.length] = slow;
  return { total, errors, buckets };
};
const windows = (by: Partial<Record<string, SloCounts>>, fallback: SloCounts) =>
  Object.fromEntries(["5m", "30m", "1h", "6h", "3d", "objective", "threshold:ej", "threshold:p99"].map((w) => [w, by[w] ?? fallback]));

describe("burn-rate alerts", () => {
  const availability = slo({ objective: { type: "Availability", target: 99 } });
  const states = (byWindow: Record<string, SloCounts>) => Object.fromEntries(evaluateObjective(availability, byWindow).checks.map((c) => [c.alert, c.firing]));

  it("pages only when both the long and the short window burn fast (14.4x over 1h and 5m)", () => {
    // 20 % errors is 20x a 1 % budget.
    expect(states(windows({}, counts(100, 20)))).toEqual({ page: true, ticket: true });
    // A spike that is over: the 5m window is clean, so no page (the 6h/30m pair stays under 6x).
    expect(states(windows({ "5m": counts(100, 0), "30m": counts(100, 2) }, counts(100, 20)))).toEqual({ page: false, ticket: true });
    // 6x over 6h and 30m pages too.
    expect(states(windows({ "5m": counts(100, 0), "1h": counts(100, 7), "6h": counts(100, 7), "30m": counts(100, 7) }, counts(100, 2)))).toEqual({ page: true, ticket: true });
    expect(states(windows({}, counts(100, 0)))).toEqual({ page: false, ticket: false });
  });

  it("reports the budget left over the objective's window, and 1 with no traffic", () => {
    expect(evaluateObjective(availability, windows({ objective: counts(1000, 5) }, counts(100, 0))).status.errorBudgetRemaining).toBeCloseTo(0.5, 10);
    expect(evaluateObjective(availability, windows({}, counts(0, 0))).status.errorBudgetRemaining).toBe(1);
  });
});

describe("latency objectives and thresholds", () => {
  it("counts requests slower than the threshold bucket as bad", () => {
    const latency = slo({ objective: { type: "Latency", target: 90, threshold: "250ms" } });
    const { status } = evaluateObjective(latency, windows({}, counts(100, 0, 30)));
    expect(status).toMatchObject({ total: 100, bad: 30, thresholdSeconds: 0.25 });
    expect(status.burnRates["1h"]).toBeCloseTo(3, 10);
  });

  it("fires an Ejections threshold on the coordinator's count, and a latency quantile on the buckets", () => {
    const withThresholds = slo({
      objective: { type: "Availability", target: 99 },
      alerts: { burnRate: false, thresholds: [{ type: "Ejections", name: "ej", above: 0 }, { type: "LatencyQuantile", name: "p99", quantile: 0.99, above: "5s" }] },
    });
    const fine = evaluateObjective(withThresholds, windows({}, counts(100, 0)), 0).checks;
    expect(fine.map((c) => [c.alert, c.firing])).toEqual([["ej", false], ["p99", false]]);
    const bad = evaluateObjective(withThresholds, windows({ "threshold:p99": counts(100, 0, 50) }, counts(100, 0)), 2).checks;
    expect(bad.map((c) => [c.alert, c.firing, c.value])).toEqual([["ej", true, 2], ["p99", true, 10]]);
  });
});
