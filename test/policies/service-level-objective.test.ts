import { describe, expect, it } from "vitest";
import { BACKENDS, errorsOf } from "../support/policy-text.ts";

const slo = (spec: string) => `${BACKENDS}---
apiVersion: edgemesh.dev/v1alpha1
kind: ServiceLevelObjective
metadata: { name: ratings-latency }
spec:
${spec}`;

describe("ServiceLevelObjective validation", () => {
  it("accepts an availability and a latency objective with thresholds and a webhook", () => {
    expect(errorsOf(slo(`  backend: ratings
  objective: { type: Latency, target: 99.5, threshold: 250ms }
  alerts: { thresholds: [{ type: LatencyQuantile, name: p99, quantile: 0.99, above: 1s }] }
  notify: { webhook: "https://alerts.example/hook?team=edge" }
`))).toEqual([]);
  });

  it("names the field and the reason for each mistake", () => {
    const errors = errorsOf(slo(`  backend: nowhere
  route: no-route
  objective: { type: Latency, target: 100, threshold: 300ms }
  window: 90d
  alerts: { thresholds: [{ type: ErrorRatio, name: a, above: 2 }, { type: ErrorRatio, name: a, above: 0.1 }] }
  notify: { webhook: "http://169.254.169.254/latest/meta-data" }
`), "slo.yaml");
    const text = errors.join("\n");
    expect(text).toContain("spec.objective.target: must be less than 100: no objective allows zero failures");
    expect(text).toContain("spec.objective.threshold: must be one of the latency histogram's bounds: 0.5ms, 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s, 10s");
    expect(text).toContain("spec.window: must be between 1d and 30d");
    expect(text).toContain("spec.alerts.thresholds[0].above: must be at most 1");
    expect(text).toContain("spec.notify.webhook: must not point at");
  });

  it("refuses plaintext webhooks off the machine, credentials in them, and unknown objects", () => {
    expect(errorsOf(slo(`  backend: ratings
  objective: { type: Availability, target: 99 }
  notify: { webhook: "http://alerts.example/hook" }
`)).join("\n")).toContain("spec.notify.webhook: must be https:// (alerts leave the machine); http:// only to loopback");
    expect(errorsOf(slo(`  backend: ratings
  objective: { type: Availability, target: 99 }
  notify: { webhook: "https://user:secret@alerts.example/hook" }
`)).join("\n")).toContain('spec.notify.webhook: must not contain a user name or password');
    const unknown = errorsOf(slo(`  backend: nowhere
  route: no-route
  objective: { type: Availability, target: 99 }
`)).join("\n");
    expect(unknown).toContain('spec.backend: refers to unknown Backend "nowhere"');
    expect(unknown).toContain('spec.route: refers to unknown HTTPRoute "no-route"');
  });
});
