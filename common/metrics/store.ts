/**
 * Counters and histograms keyed by family and label values: what an isolate accumulates between
 * flushes and what the metrics Durable Object sums across isolates. Series are plain arrays, so a
 * store serializes as it is (toEntries / merge). Cardinality is bounded per family: past `maxSeries`
 * series, the least-counted half is folded into overflow series whose labels are OVERFLOW_LABEL, so
 * the heaviest series stay exact (an approximate top-k) and totals stay right. The fold keeps what
 * SLOs, the service graph and the golden signals are computed from: the destination service as it is
 * (Backends are few: the configuration bounds them) and the response code as its class ("5xx"), so a
 * quiet service's failures are still counted as its failures (isServerError reads both forms).
 */
import { FAMILIES, type Family, type FamilyKey } from "./families.ts";

export const OVERFLOW_LABEL = "__overflow__";

/** Whether a response_code label is a 5xx: a status ("503") or a folded class ("5xx"). */
export const isServerError = (code: string | undefined): boolean => code !== undefined && code.length === 3 && code[0] === "5";

/** A folded series' label: kept, a class, or OVERFLOW_LABEL. */
function foldedLabel(name: string, value: string, keepService: boolean): string {
  if (name === "destination_service") return keepService ? value : OVERFLOW_LABEL;
  if (name === "response_code") return /^[1-5][0-9x]{2}$/.test(value) ? `${value[0]}xx` : OVERFLOW_LABEL;
  return OVERFLOW_LABEL;
}

/** One series as it travels between isolate and object: counter value, or histogram buckets/sum/count. */
export interface SeriesEntry {
  family: FamilyKey;
  labels: string[];
  /** Counter: the increment. Histogram: the observation count. */
  count: number;
  /** Histogram: the sum of observations. */
  sum?: number;
  /** Histogram: per-bucket counts (not cumulative), one more than the bounds (the +Inf bucket). */
  buckets?: number[];
}

/** One series; `handle()` gives it out so a caller can update it again without looking it up. */
export interface Series {
  labels: string[];
  count: number;
  sum: number;
  buckets: number[] | undefined;
}

const SEPARATOR = "\u0000";

export class MetricStore {
  private readonly families = new Map<FamilyKey, Map<string, Series>>();
  private dropped = 0;

  /**
   * `full`: what a full family does with a new series. "fold" (deltas, per-minute rows): fold the
   * least-counted half, as above. "overflow" (cumulative series, which an exposition must keep
   * monotonic): keep every series it has and count the new one in its overflow series from then on,
   * as folding a counter's whole past into another series would count it twice.
   */
  constructor(
    readonly maxSeries = 2_000,
    private readonly full: "fold" | "overflow" = "fold",
  ) {}

  /**
   * Changes whenever series leave the store (clear, or a fold): a handle taken before is then stale.
   * Callers that keep handles (metrics/record.ts) check it and take new ones.
   */
  get generation(): number {
    return this.dropped;
  }

  inc(family: FamilyKey, labels: string[], by = 1): void {
    if (by !== 0) this.series(family, labels).count += by;
  }

  observe(family: FamilyKey, labels: string[], value: number): void {
    observeInto(family, this.series(family, labels), value);
  }

  /** The series of `family` with these labels, made if new (as inc and observe would); valid while `generation` holds. */
  handle(family: FamilyKey, labels: string[]): Series {
    return this.series(family, labels);
  }

  merge(entries: readonly SeriesEntry[]): void {
    for (const entry of entries) {
      const definition = FAMILIES[entry.family] as Family | undefined;
      // Entries from another deploy's families (during a rollout) are dropped, not guessed at.
      if (!definition || entry.labels.length !== definition.labels.length) continue;
      const series = this.series(entry.family, entry.labels);
      series.count += entry.count;
      if (series.buckets && entry.buckets?.length === series.buckets.length) {
        series.sum += entry.sum ?? 0;
        for (let i = 0; i < series.buckets.length; i++) series.buckets[i]! += entry.buckets[i]!;
      }
    }
  }

  get size(): number {
    let total = 0;
    for (const family of this.families.values()) total += family.size;
    return total;
  }

  toEntries(): SeriesEntry[] {
    const entries: SeriesEntry[] = [];
    for (const [family, series] of this.families) {
      for (const { labels, count, sum, buckets } of series.values()) {
        entries.push(buckets ? { family, labels, count, sum, buckets: [...buckets] } : { family, labels, count });
      }
    }
    return entries;
  }

  /** Each family's series, for exposition and queries. */
  read(family: FamilyKey): readonly Readonly<Series>[] {
    return [...(this.families.get(family)?.values() ?? [])];
  }

  clear(): void {
    this.families.clear();
    this.dropped++;
  }

  private series(family: FamilyKey, labels: string[]): Series {
    let byKey = this.families.get(family);
    if (!byKey) this.families.set(family, (byKey = new Map()));
    const key = labels.join(SEPARATOR);
    let series = byKey.get(key);
    if (series) return series;
    if (byKey.size >= this.maxSeries && this.full === "overflow") return this.overflowOf(family, byKey, labels);
    if (byKey.size >= this.maxSeries) {
      this.fold(family, byKey, true);
      // Services are few, but should there be more of them than the cap, they fold too.
      if (byKey.size >= this.maxSeries) this.fold(family, byKey, false);
    }
    const definition: Family = FAMILIES[family];
    series = emptySeries(definition, [...labels]);
    byKey.set(key, series);
    return series;
  }

  /**
   * The overflow series a new series of a full family counts in. Made past the cap (services and code
   * classes are few); should even those pass twice the cap, the service is folded too.
   */
  private overflowOf(family: FamilyKey, byKey: Map<string, Series>, labels: string[]): Series {
    const definition: Family = FAMILIES[family];
    const withService = labels.map((value, i) => foldedLabel(definition.labels[i]!, value, true));
    // A service's overflow series stays its own; only a new one past twice the cap loses its service.
    const folded = byKey.has(withService.join(SEPARATOR)) || byKey.size < 2 * this.maxSeries ? withService : labels.map((value, i) => foldedLabel(definition.labels[i]!, value, false));
    const key = folded.join(SEPARATOR);
    let series = byKey.get(key);
    if (!series) byKey.set(key, (series = emptySeries(definition, folded)));
    return series;
  }

  /** Folds the least-counted half of a family's series into overflow series (one per kept labels). */
  private fold(family: FamilyKey, byKey: Map<string, Series>, keepService: boolean): void {
    const definition: Family = FAMILIES[family];
    // Series already in folded form (overflow series, or a family whose labels are all kept) stay.
    const ranked = [...byKey.entries()]
      .map(([key, series]) => {
        const labels = series.labels.map((value, i) => foldedLabel(definition.labels[i]!, value, keepService));
        return { key, series, labels, overflowKey: labels.join(SEPARATOR) };
      })
      .filter((entry) => entry.overflowKey !== entry.key)
      .sort((a, b) => a.series.count - b.series.count);
    for (const { key, series, labels, overflowKey } of ranked.slice(0, Math.ceil(ranked.length / 2))) {
      let overflow = byKey.get(overflowKey);
      if (!overflow) {
        overflow = emptySeries(definition, labels);
        byKey.set(overflowKey, overflow);
      }
      overflow.count += series.count;
      overflow.sum += series.sum;
      if (overflow.buckets) for (let i = 0; i < overflow.buckets.length; i++) overflow.buckets[i]! += series.buckets![i]!;
      byKey.delete(key);
    }
    this.dropped++;
  }
}

/** A series of `definition`'s family with nothing counted yet (its buckets too, for a histogram). */
const emptySeries = (definition: Family, labels: string[]): Series => ({ labels, count: 0, sum: 0, buckets: definition.buckets ? new Array(definition.buckets.length + 1).fill(0) : undefined });

/** One observation into a series of histogram `family` (from `handle()`). */
export function observeInto(family: FamilyKey, series: Series, value: number): void {
  const bounds = (FAMILIES[family] as Family).buckets!;
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  series.buckets![i]!++;
  series.count++;
  series.sum += value;
}
