/**
 * A MetricsAggregator's counts: the cumulative series (the exposition), in memory only, and one row
 * per minute of the windowed families (requests and their durations, for WINDOW_MINUTES: the service
 * graph and dashboard) and per-destination minute counts (SLO_MINUTES: SLO evaluation), in memory and
 * in SQLite. A report changes memory only; `write` puts what changed into the tables in one go (the
 * object's alarm, at most every PERSIST_INTERVAL_MS). Reads take memory's rows over the tables' (they
 * are newer), so every reader sees every report at once.
 *
 * The cumulative series start from zero in each new instance (a deploy, a crash, an eviction), as a
 * process's counters do: Prometheus takes a drop for a reset and counts from the new value. Reloaded
 * from the last write, they would drop by the counts of the last interval only, which Prometheus would
 * also take for a reset, adding their whole past to every rate and increase over it. Past MAX_SERIES a
 * new series counts in its family's overflow series, and no series is folded (store.ts: "overflow").
 */
import { FAMILIES, type FamilyKey } from "../common/metrics/families.ts";
import type { MetricsReport, MinuteRow, SloCounts, SloCountsQuery } from "../common/metrics/protocol.ts";
import { isServerError, MetricStore, type SeriesEntry } from "../common/metrics/store.ts";

/**
 * How long reports gather in memory before they are written. Writing on every report rewrote the
 * whole cumulative series (up to 2 000, as JSON) and the minute's row once per isolate flush; once
 * per interval bounds the writes whatever the number of isolates. The price: an object that
 * restarts (a deploy, a crash) loses the counts of up to one interval. Under the 10 s of inactivity
 * after which the runtime may take an idle object out of memory, so the last reports before traffic
 * stops are written first.
 */
export const PERSIST_INTERVAL_MS = 5_000;
/** Three days: the longest window of the SRE workbook's burn-rate alerts. */
export const WINDOW_MINUTES = 3 * 24 * 60;
/** Per-destination minute counts for SLOs: the longest objective window (30 days) and a day more. */
export const SLO_MINUTES = 31 * 24 * 60;
const WINDOWED: ReadonlySet<FamilyKey> = new Set(["requests", "requestDuration"]);
const MAX_SERIES = 2_000;
const MINUTE_MS = 60_000;
const BUCKETS = FAMILIES.requestDuration.buckets.length + 1;

interface SloRow {
  minute: number;
  service: string;
  route: string;
  total: number;
  errors: number;
  buckets: number[];
}

const sloKey = (minute: number, service: string, route: string) => `${minute}\u0000${service}\u0000${route}`;

export class MetricsState {
  readonly totals = new MetricStore(MAX_SERIES, "overflow");
  /**
   * The rows changed since the last write, whole (the stored row read in when first touched), so a
   * write replaces rows and a repeated one changes nothing.
   */
  private readonly minuteRows = new Map<number, MetricStore>();
  private readonly sloRows = new Map<string, SloRow>();
  private changed = false;

  constructor(private readonly sql: SqlStorage) {
    // Where earlier deploys kept the cumulative series (see above).
    sql.exec("DROP TABLE IF EXISTS totals");
    sql.exec("CREATE TABLE IF NOT EXISTS minutes (minute INTEGER PRIMARY KEY, entries TEXT NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS slo_minutes (minute INTEGER NOT NULL, service TEXT NOT NULL, route TEXT NOT NULL,
      total INTEGER NOT NULL, errors INTEGER NOT NULL, buckets TEXT NOT NULL, PRIMARY KEY (minute, service, route))`);
  }

  /** Whether memory holds counts the tables do not. */
  get dirty(): boolean {
    return this.changed;
  }

  /** Adds a report's deltas to memory; whether it carried requests (the windowed families). */
  add(report: MetricsReport): boolean {
    const entries = Array.isArray(report.entries) ? report.entries : [];
    if (!entries.length) return false;
    this.totals.merge(entries);
    this.changed = true;
    const windowed = entries.filter((entry) => WINDOWED.has(entry.family));
    if (!windowed.length) return false;
    const minute = Math.floor((Number.isFinite(report.at) ? report.at : Date.now()) / MINUTE_MS);
    this.minuteRow(minute).merge(windowed);
    this.addSloMinute(minute, windowed);
    return true;
  }

  /** Writes what changed since the last write and drops the rows past their windows. */
  write(): void {
    if (!this.changed) return;
    for (const [minute, row] of this.minuteRows) {
      this.sql.exec("INSERT OR REPLACE INTO minutes (minute, entries) VALUES (?, ?)", minute, JSON.stringify(row.toEntries()));
    }
    for (const row of this.sloRows.values()) {
      this.sql.exec("INSERT OR REPLACE INTO slo_minutes (minute, service, route, total, errors, buckets) VALUES (?, ?, ?, ?, ?, ?)", row.minute, row.service, row.route, row.total, row.errors, JSON.stringify(row.buckets));
    }
    if (this.minuteRows.size) {
      const latest = Math.max(...this.minuteRows.keys());
      this.sql.exec("DELETE FROM minutes WHERE minute < ?", latest - WINDOW_MINUTES);
      this.sql.exec("DELETE FROM slo_minutes WHERE minute < ?", latest - SLO_MINUTES);
    }
    this.minuteRows.clear();
    this.sloRows.clear();
    this.changed = false;
  }

  /** The windowed families summed over the minutes since `sinceMs`. */
  window(sinceMs: number): SeriesEntry[] {
    const store = new MetricStore(MAX_SERIES);
    for (const row of this.minutes(sinceMs)) store.merge(row.entries);
    return store.toEntries();
  }

  /** The minute rows since `sinceMs`, oldest first. */
  minutes(sinceMs: number): MinuteRow[] {
    const since = Math.floor(sinceMs / MINUTE_MS);
    const rows = new Map<number, SeriesEntry[]>();
    for (const row of this.sql.exec<{ minute: number; entries: string }>("SELECT minute, entries FROM minutes WHERE minute >= ?", since)) {
      if (!this.minuteRows.has(row.minute)) rows.set(row.minute, JSON.parse(row.entries) as SeriesEntry[]);
    }
    for (const [minute, row] of this.minuteRows) if (minute >= since) rows.set(minute, row.toEntries());
    return [...rows].sort((a, b) => a[0] - b[0]).map(([minute, entries]) => ({ minute, entries }));
  }

  /** Per window of the query, in its order. */
  sloCounts(query: SloCountsQuery): SloCounts[] {
    const starts = query.sinceMs.map((since) => Math.floor(since / MINUTE_MS));
    const counts = starts.map(() => ({ total: 0, errors: 0, buckets: new Array<number>(BUCKETS).fill(0) }));
    const add = (row: { minute: number; total: number; errors: number }, buckets: readonly number[]) =>
      starts.forEach((start, w) => {
        if (row.minute < start) return;
        const count = counts[w]!;
        count.total += row.total;
        count.errors += row.errors;
        for (let i = 0; i < BUCKETS; i++) count.buckets[i]! += buckets[i] ?? 0;
      });
    const earliest = Math.min(...starts);
    type Saved = { minute: number; route: string; total: number; errors: number; buckets: string };
    const saved = query.route === undefined
      ? this.sql.exec<Saved>("SELECT minute, route, total, errors, buckets FROM slo_minutes WHERE service = ? AND minute >= ?", query.service, earliest)
      : this.sql.exec<Saved>("SELECT minute, route, total, errors, buckets FROM slo_minutes WHERE service = ? AND route = ? AND minute >= ?", query.service, query.route, earliest);
    for (const row of saved) {
      if (!this.sloRows.has(sloKey(row.minute, query.service, row.route))) add(row, JSON.parse(row.buckets) as number[]);
    }
    for (const row of this.sloRows.values()) {
      if (row.service === query.service && (query.route === undefined || row.route === query.route) && row.minute >= earliest) add(row, row.buckets);
    }
    return counts;
  }

  private minuteRow(minute: number): MetricStore {
    let row = this.minuteRows.get(minute);
    if (!row) {
      row = new MetricStore(MAX_SERIES);
      const saved = this.sql.exec<{ entries: string }>("SELECT entries FROM minutes WHERE minute = ?", minute).toArray()[0];
      if (saved) row.merge(JSON.parse(saved.entries) as SeriesEntry[]);
      this.minuteRows.set(minute, row);
    }
    return row;
  }

  /** Request and error counts and the duration buckets, per (minute, destination, route). */
  private addSloMinute(minute: number, entries: readonly SeriesEntry[]): void {
    // Labels by position, as families.ts lists them.
    for (const entry of entries) {
      if (entry.family === "requests") {
        const [, , service, route, code] = entry.labels;
        const row = this.sloRow(minute, service!, route!);
        row.total += entry.count;
        if (isServerError(code)) row.errors += entry.count;
      } else if (entry.family === "requestDuration" && entry.buckets?.length === BUCKETS) {
        const [, , service, route] = entry.labels;
        const row = this.sloRow(minute, service!, route!);
        for (let i = 0; i < BUCKETS; i++) row.buckets[i]! += entry.buckets[i]!;
      }
    }
  }

  private sloRow(minute: number, service: string, route: string): SloRow {
    const key = sloKey(minute, service, route);
    let row = this.sloRows.get(key);
    if (!row) {
      const saved = this.sql
        .exec<{ total: number; errors: number; buckets: string }>("SELECT total, errors, buckets FROM slo_minutes WHERE minute = ? AND service = ? AND route = ?", minute, service, route)
        .toArray()[0];
      const buckets = saved ? (JSON.parse(saved.buckets) as number[]) : [];
      row = { minute, service, route, total: saved?.total ?? 0, errors: saved?.errors ?? 0, buckets: Array.from({ length: BUCKETS }, (_, i) => buckets[i] ?? 0) };
      this.sloRows.set(key, row);
    }
    return row;
  }
}
