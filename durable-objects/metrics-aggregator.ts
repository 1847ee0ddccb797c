/**
 * MetricsAggregator: one shard of the mesh's metrics, summed across the isolates that report to it.
 * Isolates send deltas in batches after responses (never per request); the object keeps the
 * cumulative series for the Prometheus exposition and, for the windowed families (requests and
 * their durations: the service graph and SLOs read them), one row per minute for WINDOW_MINUTES.
 * Both live in SQLite, so a restarted object keeps its counters; the minute rows past the window are
 * dropped as new ones arrive. Cardinality is bounded by the store (store.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { alertsOf, type MetricsApi, type MetricsReport, type MinuteRow, type SloCounts, type SloCountsQuery } from "../common/metrics/protocol.ts";
import type { Namespace } from "../common/protocol.ts";
import { MetricStore, type SeriesEntry } from "../common/metrics/store.ts";
import { FAMILIES, type FamilyKey } from "../common/metrics/families.ts";

/** Three days: the longest window of the SRE workbook's burn-rate alerts. */
export const WINDOW_MINUTES = 3 * 24 * 60;
const WINDOWED: ReadonlySet<FamilyKey> = new Set(["requests", "requestDuration"]);
const MAX_SERIES = 2_000;
const MINUTE_MS = 60_000;
/** Per-destination minute counts for SLOs: the longest objective window (30 days) and a day more. */
export const SLO_MINUTES = 31 * 24 * 60;
const BUCKETS = FAMILIES.requestDuration.buckets.length + 1;

/** How often, at most, a shard reminds the alert evaluator that traffic is flowing. */
const WAKE_INTERVAL_MS = 30_000;

export class MetricsAggregator extends DurableObject<{ ALERTS?: Namespace }> implements MetricsApi {
  private readonly sql: SqlStorage;
  private readonly totalsStore = new MetricStore(MAX_SERIES);
  private wokeAt = 0;

  constructor(ctx: DurableObjectState, env: { ALERTS?: Namespace }) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), entries TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, entries TEXT NOT NULL)");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS slo_minutes (minute INTEGER NOT NULL, service TEXT NOT NULL, route TEXT NOT NULL,
      total INTEGER NOT NULL, errors INTEGER NOT NULL, buckets TEXT NOT NULL, PRIMARY KEY (minute, service, route))`);
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
    this.addSloMinute(minute, windowed);
    if (this.env.ALERTS && Date.now() - this.wokeAt > WAKE_INTERVAL_MS) {
      this.wokeAt = Date.now();
      this.ctx.waitUntil(alertsOf(this.env.ALERTS).wake().catch(() => (this.wokeAt = 0)));
    }
  }

  /** One row per (minute, destination, route): request and error counts and the duration buckets. */
  private addSloMinute(minute: number, entries: readonly SeriesEntry[]): void {
    const rows = new Map<string, { service: string; route: string; total: number; errors: number; buckets: number[] }>();
    const rowOf = (service: string, route: string) => {
      const key = `${service}\u0000${route}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { service, route, total: 0, errors: 0, buckets: new Array(BUCKETS).fill(0) }));
      return row;
    };
    // Labels by position, as families.ts lists them.
    for (const entry of entries) {
      if (entry.family === "requests") {
        const [, , service, route, code] = entry.labels;
        const row = rowOf(service!, route!);
        row.total += entry.count;
        if (Number(code) >= 500) row.errors += entry.count;
      } else if (entry.family === "requestDuration" && entry.buckets?.length === BUCKETS) {
        const [, , service, route] = entry.labels;
        const row = rowOf(service!, route!);
        for (let i = 0; i < BUCKETS; i++) row.buckets[i]! += entry.buckets[i]!;
      }
    }
    for (const row of rows.values()) {
      const saved = this.sql
        .exec<{ total: number; errors: number; buckets: string }>("SELECT total, errors, buckets FROM slo_minutes WHERE minute = ? AND service = ? AND route = ?", minute, row.service, row.route)
        .toArray()[0];
      if (saved) {
        row.total += saved.total;
        row.errors += saved.errors;
        const buckets = JSON.parse(saved.buckets) as number[];
        for (let i = 0; i < BUCKETS; i++) row.buckets[i]! += buckets[i] ?? 0;
      }
      this.sql.exec("INSERT OR REPLACE INTO slo_minutes (minute, service, route, total, errors, buckets) VALUES (?, ?, ?, ?, ?, ?)", minute, row.service, row.route, row.total, row.errors, JSON.stringify(row.buckets));
    }
    this.sql.exec("DELETE FROM slo_minutes WHERE minute < ?", minute - SLO_MINUTES);
  }

  async sloCounts(query: SloCountsQuery): Promise<SloCounts[]> {
    const starts = query.sinceMs.map((since) => Math.floor(since / MINUTE_MS));
    const counts = starts.map(() => ({ total: 0, errors: 0, buckets: new Array<number>(BUCKETS).fill(0) }));
    const earliest = Math.min(...starts);
    const rows = query.route === undefined
      ? this.sql.exec<{ minute: number; total: number; errors: number; buckets: string }>("SELECT minute, total, errors, buckets FROM slo_minutes WHERE service = ? AND minute >= ?", query.service, earliest)
      : this.sql.exec<{ minute: number; total: number; errors: number; buckets: string }>("SELECT minute, total, errors, buckets FROM slo_minutes WHERE service = ? AND route = ? AND minute >= ?", query.service, query.route, earliest);
    for (const row of rows) {
      const buckets = JSON.parse(row.buckets) as number[];
      starts.forEach((start, w) => {
        if (row.minute < start) return;
        const count = counts[w]!;
        count.total += row.total;
        count.errors += row.errors;
        for (let i = 0; i < BUCKETS; i++) count.buckets[i]! += buckets[i] ?? 0;
      });
    }
    return counts;
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
