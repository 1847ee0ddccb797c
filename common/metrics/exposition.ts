/**
 * The Prometheus text exposition format (version 0.0.4): HELP and TYPE for every family, label values
 * escaped (backslash, double quote, newline), histograms as cumulative `_bucket{le}` series ending at
 * +Inf, then `_sum` and `_count`.
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

export function renderPrometheus(store: MetricStore, families: readonly FamilyKey[] = Object.keys(FAMILIES) as FamilyKey[]): string {
  const lines: string[] = [];
  for (const key of families) {
    const family: Family = FAMILIES[key];
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const series of store.read(key)) {
      if (family.type === "counter") {
        lines.push(`${family.name}${labelText(family.labels, series.labels)} ${number(series.count)}`);
        continue;
      }
      const bounds = family.buckets!;
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += series.buckets![i]!;
        lines.push(`${family.name}_bucket${labelText(family.labels, series.labels, `le="${number(bounds[i] ?? Infinity)}"`)} ${cumulative}`);
      }
      lines.push(`${family.name}_sum${labelText(family.labels, series.labels)} ${number(series.sum)}`);
      lines.push(`${family.name}_count${labelText(family.labels, series.labels)} ${series.count}`);
    }
  }
  return lines.join("\n") + "\n";
}
