/**
 * The Prometheus text exposition format (version 0.0.4): HELP and TYPE for every family, label values
 * escaped (backslash, double quote, newline), histograms as cumulative `_bucket{le}` series ending at
 * +Inf, then `_sum` and `_count`. Given several stores (the metrics shards), each series carries a
 * `shard` label: a shard restarts on its own, and its counters with it, which Prometheus reads as the
 * reset it is only per shard (summed, the drop of one shard's part would be taken for a reset of all).
 */
import { FAMILIES, type Family, type FamilyKey } from "./families.ts";
import type { MetricStore } from "./store.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Go's %g-like formatting Prometheus reads: integers as integers, +Inf for the last bucket. */
const number = (value: number) => (value === Infinity ? "+Inf" : String(value));

export function renderPrometheus(source: MetricStore | readonly MetricStore[], families: readonly FamilyKey[] = Object.keys(FAMILIES) as FamilyKey[]): string {
  const stores = Array.isArray(source) ? source : [source as MetricStore];
  const lines: string[] = [];
  for (const key of families) {
    const family: Family = FAMILIES[key];
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    stores.forEach((store, shard) => {
      const own = Array.isArray(source) ? `shard="${shard}"` : undefined;
      for (const series of store.read(key)) {
        const labels = labelText(family.labels, series.labels, own);
        if (family.type === "counter") {
          lines.push(`${family.name}${labels} ${number(series.count)}`);
          continue;
        }
        const bounds = family.buckets!;
        let cumulative = 0;
        for (let i = 0; i <= bounds.length; i++) {
          cumulative += series.buckets![i]!;
          const le = `le="${number(bounds[i] ?? Infinity)}"`;
          lines.push(`${family.name}_bucket${labelText(family.labels, series.labels, own ? `${own},${le}` : le)} ${cumulative}`);
        }
        lines.push(`${family.name}_sum${labels} ${number(series.sum)}`);
        lines.push(`${family.name}_count${labels} ${series.count}`);
      }
    });
  }
  return lines.join("\n") + "\n";
}
