/**
 * MetricsAggregator: one shard of the mesh's metrics, summed across the isolates that report to it.
 * Isolates send deltas in batches after responses (never per request); the object adds them to the
 * counts it holds in memory (metrics-state.ts: the cumulative series for the Prometheus exposition
 * and, for the windowed families, one row per minute) and its alarm writes them to SQLite, at most
 * once per PERSIST_INTERVAL_MS (5 s) however many reports arrive. Reads take the counts in memory
 * over the written ones, so they see every report at once; a restarted object keeps what was
 * written and loses the counts of up to the last interval. Cardinality is bounded by the store
 * (store.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { alertsOf, type MetricsApi, type MetricsReport, type MinuteRow, type SloCounts, type SloCountsQuery } from "../common/metrics/protocol.ts";
import type { Namespace } from "../common/protocol.ts";
import type { SeriesEntry } from "../common/metrics/store.ts";
import { MetricsState, PERSIST_INTERVAL_MS } from "./metrics-state.ts";
import { LruMap } from "../common/lru.ts";

/** How often, at most, a shard reminds the alert evaluator that traffic is flowing. */
const WAKE_INTERVAL_MS = 30_000;

export class MetricsAggregator extends DurableObject<{ ALERTS?: Namespace }> implements MetricsApi {
  private readonly state: MetricsState;
  private wokeAt = 0;
  /** The alarm that writes the counts is set (or was found set); the reports until it runs share it. */
  private writeScheduled = false;
  /** The last report number taken from each isolate (a new instance knows none: a resend right after a restart counts again). */
  private readonly lastSeq = new LruMap<string, number>(10_000);

  constructor(ctx: DurableObjectState, env: { ALERTS?: Namespace }) {
    super(ctx, env);
    this.state = new MetricsState(ctx.storage.sql);
  }

  async report(report: MetricsReport): Promise<void> {
    let traffic = false;
    for (const batch of [...(Array.isArray(report.earlier) ? report.earlier : []), report]) if (this.take(batch)) traffic = true;
    if (this.state.dirty && !this.writeScheduled) await this.scheduleWrite();
    if (traffic && this.env.ALERTS && Date.now() - this.wokeAt > WAKE_INTERVAL_MS) {
      this.wokeAt = Date.now();
      this.ctx.waitUntil(alertsOf(this.env.ALERTS).wake().catch(() => (this.wokeAt = 0)));
    }
  }

  /** One report into the counts, unless it was taken already; whether it carried requests. */
  private take(report: MetricsReport): boolean {
    const { source, seq } = report;
    if (typeof source === "string" && typeof seq === "number") {
      // A report sent again (its first call failed or timed out, yet may have landed) is taken once.
      if ((this.lastSeq.get(source) ?? 0) >= seq) return false;
      this.lastSeq.set(source, seq);
    }
    return this.state.add(report);
  }

  /** Writes the counts gathered since the last write. Run twice or late, it writes what is there (or nothing). */
  override async alarm(): Promise<void> {
    // First: from here a report sets the next alarm, also if this write throws and the retries run out.
    this.writeScheduled = false;
    this.state.write();
  }

  /** Sets the write alarm unless one is pending (one set before a restart writes these counts too). */
  private async scheduleWrite(): Promise<void> {
    this.writeScheduled = true;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PERSIST_INTERVAL_MS);
  }

  async sloCounts(query: SloCountsQuery): Promise<SloCounts[]> {
    return this.state.sloCounts(query);
  }

  async totals(): Promise<SeriesEntry[]> {
    return this.state.totals.toEntries();
  }

  async window(sinceMs: number): Promise<SeriesEntry[]> {
    return this.state.window(sinceMs);
  }

  async minutes(sinceMs: number, service?: string): Promise<MinuteRow[]> {
    // destination_service is the third label of both windowed families (families.ts).
    return this.state.minutes(sinceMs).map((row) => (service === undefined ? row : { minute: row.minute, entries: row.entries.filter((entry) => entry.labels[2] === service) }));
  }
}
