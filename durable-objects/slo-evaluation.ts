/**
 * What an objective's counts mean: burn rates over the SRE workbook's windows, the error budget left,
 * and which alerts hold. Pure, so the rules are tested without a Durable Object.
 * Page: 14.4x over 1 h and 5 min (2 % of a 30-day budget in an hour), or 6x over 6 h and 30 min;
 * ticket: 1x over 3 days and 6 h ("The Site Reliability Workbook", chapter 5, alerting on SLOs).
 */
import { FAMILIES } from "../common/metrics/families.ts";
import type { ObjectiveStatus, SloCounts } from "../common/metrics/protocol.ts";
import { bucketQuantile } from "../common/metrics/quantile.ts";
import { durationToMs, type ServiceLevelObjective } from "../policies/schema/index.ts";

export const BURN_WINDOWS = { "5m": 5 * 60_000, "30m": 30 * 60_000, "1h": 3_600_000, "6h": 6 * 3_600_000, "3d": 3 * 86_400_000 } as const;
type BurnWindow = keyof typeof BURN_WINDOWS;

const BOUNDS = FAMILIES.requestDuration.buckets;

export interface AlertCheck {
  alert: string;
  severity: "page" | "ticket" | "threshold";
  firing: boolean;
  value: number | null;
  summary: string;
}

/** The windows an objective needs counted, each a start time: the burn windows, its own, its thresholds'. */
export function windowsOf(slo: ServiceLevelObjective, now: number): { names: string[]; sinceMs: number[] } {
  const names = [...Object.keys(BURN_WINDOWS), "objective", ...slo.spec.alerts.thresholds.map((t) => `threshold:${t.name}`)];
  const sinceMs = [
    ...Object.values(BURN_WINDOWS).map((ms) => now - ms),
    now - Number.parseInt(slo.spec.window, 10) * 86_400_000,
    ...slo.spec.alerts.thresholds.map((t) => now - ("window" in t ? durationToMs(t.window) : 0)),
  ];
  return { names, sinceMs };
}

/** Bad events of a window: 5xx for availability, slower than the threshold for latency. */
function badOf(slo: ServiceLevelObjective, counts: SloCounts): number {
  const objective = slo.spec.objective;
  if (objective.type === "Availability") return counts.errors;
  const threshold = durationToMs(objective.threshold) / 1000;
  let fast = 0;
  for (let i = 0; i < BOUNDS.length && BOUNDS[i]! <= threshold + 1e-12; i++) fast += counts.buckets[i] ?? 0;
  let observed = 0;
  for (const count of counts.buckets) observed += count;
  return observed - fast;
}

/** `ejected`: how many of the backend's endpoints the coordinator holds ejected now (Ejections thresholds). */
export function evaluateObjective(slo: ServiceLevelObjective, byWindow: Record<string, SloCounts>, ejected = 0): { status: Omit<ObjectiveStatus, "id" | "webhook">; checks: AlertCheck[] } {
  const objective = slo.spec.objective;
  const allowed = 1 - objective.target / 100;
  const ratio = (counts: SloCounts) => {
    const total = objective.type === "Availability" ? counts.total : counts.buckets.reduce((sum, n) => sum + n, 0);
    return total > 0 ? badOf(slo, counts) / total : 0;
  };
  const burn = (window: BurnWindow) => ratio(byWindow[window]!) / allowed;
  const burnRates = Object.fromEntries((Object.keys(BURN_WINDOWS) as BurnWindow[]).map((window) => [window, burn(window)]));
  const overall = byWindow.objective!;
  const checks: AlertCheck[] = [];
  if (slo.spec.alerts.burnRate) {
    const fast = burn("1h") > 14.4 && burn("5m") > 14.4;
    const slow = burn("6h") > 6 && burn("30m") > 6;
    checks.push({
      alert: "page",
      severity: "page",
      firing: fast || slow,
      value: Math.max(Math.min(burn("1h"), burn("5m")), Math.min(burn("6h"), burn("30m"))),
      summary: `error budget burning fast: ${burn("1h").toFixed(1)}x over 1h and ${burn("5m").toFixed(1)}x over 5m (page at 14.4x), ${burn("6h").toFixed(1)}x over 6h and ${burn("30m").toFixed(1)}x over 30m (page at 6x)`,
    });
    checks.push({
      alert: "ticket",
      severity: "ticket",
      firing: burn("3d") > 1 && burn("6h") > 1,
      value: Math.min(burn("3d"), burn("6h")),
      summary: `error budget burning: ${burn("3d").toFixed(2)}x over 3d and ${burn("6h").toFixed(2)}x over 6h (ticket at 1x)`,
    });
  }
  for (const threshold of slo.spec.alerts.thresholds) {
    const counts = byWindow[`threshold:${threshold.name}`]!;
    if (threshold.type === "Ejections") {
      checks.push({ alert: threshold.name, severity: "threshold", firing: ejected > threshold.above, value: ejected, summary: `${ejected} endpoint(s) ejected by outlier detection (alert above ${threshold.above})` });
    } else if (threshold.type === "ErrorRatio") {
      const value = counts.total > 0 ? counts.errors / counts.total : null;
      checks.push({ alert: threshold.name, severity: "threshold", firing: value !== null && value > threshold.above, value, summary: `5xx ratio over ${threshold.window}: ${value === null ? "no traffic" : value.toFixed(4)} (alert above ${threshold.above})` });
    } else {
      const quantile = bucketQuantile(threshold.quantile, BOUNDS, counts.buckets);
      const value = Number.isNaN(quantile) ? null : quantile;
      const above = durationToMs(threshold.above) / 1000;
      checks.push({ alert: threshold.name, severity: "threshold", firing: value !== null && value > above, value, summary: `p${threshold.quantile * 100} latency over ${threshold.window}: ${value === null ? "no traffic" : `${(value * 1000).toFixed(1)} ms`} (alert above ${threshold.above})` });
    }
  }
  const total = objective.type === "Availability" ? overall.total : overall.buckets.reduce((sum, n) => sum + n, 0);
  const bad = badOf(slo, overall);
  return {
    status: {
      backend: slo.spec.backend,
      route: slo.spec.route ?? null,
      type: objective.type,
      target: objective.target,
      thresholdSeconds: objective.type === "Latency" ? durationToMs(objective.threshold) / 1000 : null,
      windowDays: Number.parseInt(slo.spec.window, 10),
      total,
      bad,
      errorBudgetRemaining: total > 0 ? 1 - bad / total / allowed : 1,
      burnRates,
    },
    checks,
  };
}
