/**
 * MetricsAggregator: one shard of the mesh's metrics, summed across the isolates that report to it.
 * Isolates send deltas in batches after responses (never per request); the object keeps the
 * cumulative series for the Prometheus exposition and, for the windowed families (requests and
 * their durations: the service graph and SLOs read them), one row per minute for WINDOW_MINUTES.
 * Both live in SQLite, so a restarted object keeps its counters; the minute rows past the window are
 * dropped as new ones arrive. Cardinality is bounded by the store (store.ts).
 */
import { DurableObject } from "cloudflare:workers";
import type { MetricsApi, MetricsReport, MinuteRow } from "../common/metrics/protocol.ts";
import { MetricStore, type SeriesEntry } from "../common/metrics/store.ts";
import type { FamilyKey } from "../common/metrics/families.ts";

/** Three days: the longest window of the SRE workbook's burn-rate alerts. */
export const WINDOW_MINUTES = 3 * 24 * 60;
const WINDOWED: ReadonlySet<FamilyKey> = new Set(["requests", "requestDuration"]);
const MAX_SERIES = 2_000;
const MINUTE_MS = 60_000;

export class MetricsAggregator extends DurableObject implements MetricsApi {
  private readonly sql: SqlStorage;
  private readonly totalsStore = new MetricStore(MAX_SERIES);

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), entries TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, entries TEXT NOT NULL)");
    const saved = this.sql.exec<{ entries: string }>("SELECT entries FROM totals WHERE id = 1").toArray()[0];
    if (saved) this.totalsStore.merge(JSON.parse(saved.entries) as SeriesEntry[]);
  }

  async report(report: MetricsReport): Promise<void> {
    const entries = Array.isArray(report.entries) ? report.entries : [];
    this.totalsStore.merge(entries);
    this.sql.exec("INSERT OR REPLACE INTO totals (id, entries) VALUES (1, ?)", JSON.stringify(this.totalsStore.toEntries()));
    const windowed = entries.filter((entry) => WINDOWED.has(entry.family));
    if (!windowed.length) return;
    const minute = Math.floor((Number.isFinite(report.at) ? report.at : Date.now()) / MINUTE_MS);
    const row = this.sql.exec<{ entries: string }>("SELECT entries FROM minutes WHERE minute = ?", minute).toArray()[0];
    const store = new MetricStore(MAX_SERIES);
    if (row) store.merge(JSON.parse(row.entries) as SeriesEntry[]);
    store.merge(windowed);
    this.sql.exec("INSERT OR REPLACE INTO minutes (minute, entries) VALUES (?, ?)", minute, JSON.stringify(store.toEntries()));
    this.sql.exec("DELETE FROM minutes WHERE minute < ?", minute - WINDOW_MINUTES);
  }

  async totals(): Promise<SeriesEntry[]> {
    return this.totalsStore.toEntries();
  }

  async window(sinceMs: number): Promise<SeriesEntry[]> {
    const store = new MetricStore(MAX_SERIES);
    for (const row of this.sql.exec<{ entries: string }>("SELECT entries FROM minutes WHERE minute >= ?", Math.floor(sinceMs / MINUTE_MS))) {
      store.merge(JSON.parse(row.entries) as SeriesEntry[]);
    }
    return store.toEntries();
  }

  async minutes(sinceMs: number, service?: string): Promise<MinuteRow[]> {
    const rows: MinuteRow[] = [];
    for (const row of this.sql.exec<{ minute: number; entries: string }>("SELECT minute, entries FROM minutes WHERE minute >= ? ORDER BY minute", Math.floor(sinceMs / MINUTE_MS))) {
      const entries = JSON.parse(row.entries) as SeriesEntry[];
      // destination_service is the third label of both windowed families (families.ts).
      rows.push({ minute: row.minute, entries: service === undefined ? entries : entries.filter((entry) => entry.labels[2] === service) });
    }
    return rows;
  }
}
