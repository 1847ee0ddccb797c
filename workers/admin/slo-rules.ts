/**
 * The ServiceLevelObjectives as a Prometheus rule file, for teams that alert from Prometheus: the
 * same objectives, windows and thresholds the AlertEvaluator uses (durable-objects/slo-evaluation.ts),
 * written as recording rules (bad-event ratio per window) and alerting rules, after Sloth's layout.
 * `promtool check rules` accepts the output (tested).
 */
import { stringify } from "yaml";
import { qualifiedName } from "../../policies/qualified-name.ts";
import { durationToMs, type ServiceLevelObjective } from "../../policies/schema/index.ts";

const WINDOWS = ["5m", "30m", "1h", "6h", "3d"] as const;
const ratioRecord = (window: string) => `edgemesh:slo_bad_ratio:rate${window}`;
const label = (value: string) => JSON.stringify(value);
/** Prometheus's own spelling of a bucket bound: Go's shortest float format, as the exposition writes it. */
const le = (seconds: number) => String(seconds);

export function sloRuleFile(objectives: readonly ServiceLevelObjective[]): string {
  const groups = objectives.map((slo) => {
    const { namespace, name } = slo.metadata;
    const qualified = (object: string) => qualifiedName(namespace, object);
    const id = `${namespace}/${name}`;
    const matchers = [`destination_service=${label(qualified(slo.spec.backend))}`, ...(slo.spec.route ? [`route=${label(qualified(slo.spec.route))}`] : [])].join(",");
    const objective = slo.spec.objective;
    const badRatio = (window: string) =>
      objective.type === "Availability"
        ? `sum(rate(edgemesh_requests_total{${matchers},response_code=~"5.."}[${window}])) / sum(rate(edgemesh_requests_total{${matchers}}[${window}]))`
        : `1 - (sum(rate(edgemesh_request_duration_seconds_bucket{${matchers},le="${le(durationToMs(objective.threshold) / 1000)}"}[${window}])) / sum(rate(edgemesh_request_duration_seconds_count{${matchers}}[${window}])))`;
    const allowed = Number((1 - objective.target / 100).toPrecision(12));
    const burn = (window: string, factor: number) => `${ratioRecord(window)}{slo=${label(id)}} > (${factor} * ${allowed})`;
    const rules: Record<string, unknown>[] = WINDOWS.map((window) => ({ record: ratioRecord(window), expr: badRatio(window), labels: { slo: id } }));
    if (slo.spec.alerts.burnRate) {
      rules.push({
        alert: "EdgemeshSloErrorBudgetBurnPage",
        expr: `(${burn("1h", 14.4)} and ${burn("5m", 14.4)}) or (${burn("6h", 6)} and ${burn("30m", 6)})`,
        labels: { severity: "page", slo: id },
        annotations: { summary: `${id}: the error budget is burning fast (14.4x over 1h and 5m, or 6x over 6h and 30m)` },
      });
      rules.push({
        alert: "EdgemeshSloErrorBudgetBurnTicket",
        expr: `${burn("3d", 1)} and ${burn("6h", 1)}`,
        labels: { severity: "ticket", slo: id },
        annotations: { summary: `${id}: the error budget is burning (1x over 3d and 6h)` },
      });
    }
    for (const threshold of slo.spec.alerts.thresholds) {
      // Ejection state lives in the coordinators, not in the metrics: the rule counts recent ejections instead.
      const expr =
        threshold.type === "Ejections"
          ? `sum(increase(edgemesh_ejections_total{destination_service=${label(qualified(slo.spec.backend))}}[5m])) > ${threshold.above}`
          : threshold.type === "ErrorRatio"
          ? `sum(rate(edgemesh_requests_total{${matchers},response_code=~"5.."}[${threshold.window}])) / sum(rate(edgemesh_requests_total{${matchers}}[${threshold.window}])) > ${threshold.above}`
          : `histogram_quantile(${threshold.quantile}, sum by (le) (rate(edgemesh_request_duration_seconds_bucket{${matchers}}[${threshold.window}]))) > ${durationToMs(threshold.above) / 1000}`;
      rules.push({ alert: `EdgemeshThreshold_${threshold.name.replace(/[^A-Za-z0-9_]/g, "_")}`, expr, labels: { severity: "threshold", slo: id }, annotations: { summary: `${id}: threshold ${threshold.name}` } });
    }
    return { name: `edgemesh-slo-${namespace}-${name}`, rules };
  });
  return stringify({ groups }, { lineWidth: 0 });
}
