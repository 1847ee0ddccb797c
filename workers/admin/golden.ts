/**
 * Golden metrics for the dashboard, from the metrics shards: one service's success rate, request
 * rate and p50/p95/p99 minute by minute (from the minute rows), and per service the route level
 * beside the attempt level (from the cumulative totals, where attempts live). Success is an answer
 * below 500, as in the service graph.
 */
import { FAMILIES } from "../../common/metrics/families.ts";
import type { MinuteRow } from "../../common/metrics/protocol.ts";
import { bucketQuantile } from "../../common/metrics/quantile.ts";
import { isServerError, type MetricStore } from "../../common/metrics/store.ts";

const BOUNDS = FAMILIES.requestDuration.buckets;
const MINUTE_MS = 60_000;

export interface MinutePoint {
  /** Epoch milliseconds the minute began. */
  at: number;
  requests: number;
  /** null for a minute without requests. */
  successRate: number | null;
  requestsPerSecond: number;
  latencySeconds: { p50: number | null; p95: number | null; p99: number | null };
}

const quantile = (q: number, buckets: number[]) => {
  const value = bucketQuantile(q, BOUNDS, buckets);
  return Number.isNaN(value) ? null : value;
};

/** Every minute of the last `minutes` (missing ones as zero), oldest first, the shards' rows summed. */
export function minuteSeries(shards: MinuteRow[][], minutes: number, now: number): MinutePoint[] {
  const last = Math.floor(now / MINUTE_MS);
  const first = last - minutes + 1;
  const sums = Array.from({ length: minutes }, () => ({ requests: 0, failures: 0, buckets: new Array<number>(BOUNDS.length + 1).fill(0) }));
  for (const rows of shards) {
    for (const { minute, entries } of rows) {
      const slot = sums[minute - first];
      if (!slot) continue;
      for (const entry of entries) {
        if (entry.family === "requests") {
          slot.requests += entry.count;
          // response_code is the fifth label (families.ts).
          if (isServerError(entry.labels[4])) slot.failures += entry.count;
        } else if (entry.family === "requestDuration" && entry.buckets?.length === slot.buckets.length) {
          for (let i = 0; i < slot.buckets.length; i++) slot.buckets[i]! += entry.buckets[i]!;
        }
      }
    }
  }
  return sums.map((slot, i) => {
    const at = (first + i) * MINUTE_MS;
    // The current minute has only run so long.
    const seconds = Math.max(1, Math.min(60, (now - at) / 1000));
    return {
      at,
      requests: slot.requests,
      successRate: slot.requests ? (slot.requests - slot.failures) / slot.requests : null,
      requestsPerSecond: slot.requests / seconds,
      latencySeconds: { p50: quantile(0.5, slot.buckets), p95: quantile(0.95, slot.buckets), p99: quantile(0.99, slot.buckets) },
    };
  });
}

export interface ServiceTotals {
  service: string;
  /** Route level: what callers saw, after retries. */
  requests: number;
  requestFailures: number;
  /** Attempt level: every try at an endpoint. */
  attempts: number;
  attemptFailures: number;
  retries: number;
  rateLimited: number;
}

/** Since the shards began, per destination service, busiest first. */
export function serviceTotals(store: MetricStore): ServiceTotals[] {
  const services = new Map<string, ServiceTotals>();
  const of = (service: string) => {
    let totals = services.get(service);
    if (!totals) services.set(service, (totals = { service, requests: 0, requestFailures: 0, attempts: 0, attemptFailures: 0, retries: 0, rateLimited: 0 }));
    return totals;
  };
  // Labels by position, as families.ts lists them.
  for (const { labels, count } of store.read("requests")) {
    const totals = of(labels[2]!);
    totals.requests += count;
    if (isServerError(labels[4])) totals.requestFailures += count;
  }
  for (const { labels, count } of store.read("attempts")) {
    const totals = of(labels[1]!);
    totals.attempts += count;
    if (isServerError(labels[3])) totals.attemptFailures += count;
  }
  for (const { labels, count } of store.read("retries")) of(labels[0]!).retries += count;
  for (const { labels, count } of store.read("rateLimited")) of(labels[1]!).rateLimited += count;
  return [...services.values()].sort((a, b) => b.requests - a.requests || a.service.localeCompare(b.service));
}
