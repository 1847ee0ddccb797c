/**
 * The outcome sink that feeds the metrics: each outcome goes into this isolate's store (a few map
 * updates), and at most once per METRICS_FLUSH_INTERVAL_MS (never two at once) the gathered deltas go
 * to this isolate's metrics shard, after the response (`waitUntil`). The first outcome of an isolate
 * is sent at once, later ones batched; a batch left when traffic stops goes when its interval is up.
 * A failed flush keeps its report, and the next sends it again (same source and number) with the new
 * one, in one call: counts are late rather than lost, a report that landed although its call failed
 * (a timeout) is not counted twice (the shard takes each (source, seq) once), and a shard too slow to
 * answer any call in time still gets every report. At most MAX_UNACKED are kept; past that the oldest
 * is dropped, and said so.
 */
import { metricsShardCount, metricsShardOf, type MetricsReport } from "../../../common/metrics/protocol.ts";
import { MetricStore } from "../../../common/metrics/store.ts";
import { sleep } from "../attempt/sleep.ts";
import type { GatewayEnv } from "../env.ts";
import { recordMetrics } from "../metrics/record.ts";
import type { OutcomeSink } from "../outcome.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import { RUN_BUDGET_MS, running } from "./background.ts";

export const DEFAULT_FLUSH_INTERVAL_MS = 2_000;
const FLUSH_TIMEOUT_MS = 2_000;
const MAX_UNACKED = 8;
/** Series an isolate holds between flushes; beyond, the least-counted fold into overflow. */
const ISOLATE_SERIES = 1_000;

export class IsolateMetrics {
  readonly store = new MetricStore(ISOLATE_SERIES);
  /** When the flush run under way started (0: none); see background.ts. */
  flushingSince = 0;
  lastFlushAt = 0;
  /** Who reports (made on first use: Workers allow no random values at startup), and the last report's number (a shard takes each once). */
  private sourceId: string | undefined;
  seq = 0;
  /** Reports whose calls failed, oldest first: sent again, as they were, with the next. */
  unacked: MetricsReport[] = [];

  get source(): string {
    return (this.sourceId ??= crypto.randomUUID());
  }

  get flushScheduled(): boolean {
    return running(this.flushingSince);
  }
  /** Fixed per isolate, so an isolate's deltas always go to the same shard. */
  private readonly pick = Math.random();

  shard(env: GatewayEnv): number {
    return Math.floor(this.pick * metricsShardCount(env.METRICS_SHARDS));
  }
}

export const reportMetrics =
  (metrics: IsolateMetrics): OutcomeSink =>
  (outcome, env) => {
    // Without the metrics Durable Object nothing would read the counts: record none.
    if (!env.METRICS) return;
    recordMetrics(metrics.store, outcome);
    if (metrics.flushScheduled) return;
    const since = (metrics.flushingSince = Date.now());
    return flushAfter(metrics.lastFlushAt ? metrics.lastFlushAt + flushIntervalOf(env) - Date.now() : 0, metrics, env, since);
  };

const flushIntervalOf = (env: GatewayEnv) => Number(env.METRICS_FLUSH_INTERVAL_MS ?? DEFAULT_FLUSH_INTERVAL_MS);

async function flushAfter(wait: number, metrics: IsolateMetrics, env: GatewayEnv, since: number): Promise<void> {
  let sent = false;
  try {
    if (wait > 0) await sleep(wait);
    metrics.lastFlushAt = Date.now();
    const unacked = metrics.unacked;
    if (metrics.store.size > 0 || !unacked.length) {
      unacked.push({ entries: metrics.store.toEntries(), at: metrics.lastFlushAt, source: metrics.source, seq: ++metrics.seq });
      metrics.store.clear();
    }
    if (unacked.length > MAX_UNACKED) {
      const dropped = unacked.splice(0, unacked.length - MAX_UNACKED);
      console.error(JSON.stringify({ level: "warn", message: "metrics reports dropped: the shard failed too many flushes in a row", reports: dropped.length }));
    }
    const latest = unacked[unacked.length - 1]!;
    try {
      await withTimeout(metricsShardOf(env.METRICS!, metrics.shard(env)).report({ ...latest, earlier: unacked.slice(0, -1) }), FLUSH_TIMEOUT_MS);
      unacked.length = 0;
      sent = true;
    } catch (error) {
      // Kept as they are, for the next flush: a timed-out call may have landed, and the shard knows each by its number.
      console.error(JSON.stringify({ level: "warn", message: "metrics flush failed; kept for the next one", error: String(error), reports: unacked.length }));
    }
  } finally {
    if (metrics.flushingSince === since) metrics.flushingSince = 0;
  }
  // Outcomes recorded while the report was on its way found a flush scheduled and scheduled none:
  // without another, they would wait for the isolate's next request, and the last ones before traffic
  // stops would never be counted. (After a failure the next request's flush takes them: no retry loop.)
  // Within this run's budget only: past it, the next request starts a run of its own.
  if (sent && metrics.store.size > 0 && !metrics.flushScheduled && Date.now() - since + flushIntervalOf(env) < RUN_BUDGET_MS) {
    metrics.flushingSince = since;
    await flushAfter(flushIntervalOf(env), metrics, env, since);
  }
}
