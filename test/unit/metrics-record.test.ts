import { describe, expect, it } from "vitest";
import { MetricStore, type SeriesEntry } from "../../common/metrics/store.ts";
import { recordMetrics } from "../../workers/gateway/metrics/record.ts";
import type { Outcome, TryRecord } from "../../workers/gateway/outcome.ts";

const attempt = (endpoint: string, status: number, latencyMs: number): TryRecord => ({ endpoint, status, reason: undefined, result: status < 500 ? "success" : "server_error", latencyMs, spanId: "00f067aa0ba902b8", startedAt: 0 } as TryRecord);

function outcome(i: number): Outcome {
  const retried = i % 7 === 0;
  const tries = retried ? [attempt(`http://10.0.0.${i % 5}:80`, 503, 2), attempt("http://10.0.0.9:80", 200, 3)] : [attempt(`http://10.0.0.${i % 5}:80`, 200, (i % 13) + 0.5)];
  return {
    requestId: String(i), traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: undefined, traceFlags: "00", startedAt: 0,
    method: "GET", host: "api.mesh", path: "/", route: `route-${i % 40}`, rule: 0, backend: `svc-${i % 3}`, endpoint: tries.at(-1)!.endpoint,
    attempts: tries.length, tries, status: i % 11 === 0 ? 404 : 200, reason: i % 17 === 0 ? "no_route" : undefined, latencyMs: (i % 29) + 4,
    retryBudgetExhausted: false, faults: [],
    ...(i % 3 === 0 && { source: { id: `spiffe://edgemesh.local/ns/default/sa/caller-${i % 4}`, via: "token" as const } }),
    ...(i % 2 === 0 && { responseBytes: 100 + i }), ...(i % 5 === 0 && { requestBytes: 10 }),
  };
}

/** What recordMetrics did before it kept handles: every family updated by its labels. */
function byLabels(store: MetricStore, o: Outcome): void {
  const principal = o.source && "id" in o.source ? o.source.id : "unknown";
  const workload = principal === "unknown" ? "unknown" : principal.slice(principal.lastIndexOf("/sa/") + 4);
  const destination = o.backend ?? "unknown";
  const route = o.route ?? "";
  const code = String(o.status);
  store.inc("requests", [workload, principal, destination, route, code, o.reason ?? ""]);
  store.observe("requestDuration", [workload, principal, destination, route, code], o.latencyMs / 1000);
  for (const a of o.tries) {
    store.inc("attempts", [workload, destination, a.endpoint ?? "", String(a.status), a.result]);
    store.observe("attemptDuration", [destination, a.endpoint ?? ""], a.latencyMs / 1000);
  }
  store.observe("meshDuration", [destination, route], Math.max(0, o.latencyMs - o.tries.reduce((t, a) => t + a.latencyMs, 0)) / 1000);
  if (o.requestBytes) store.inc("requestBytes", [workload, destination, route], o.requestBytes);
  if (o.responseBytes) store.inc("responseBytes", [workload, destination, route], o.responseBytes);
  if (o.attempts > 1) store.inc("retries", [destination, route], o.attempts - 1);
}

const sorted = (entries: SeriesEntry[]) =>
  entries.map((e) => ({ ...e, sum: e.sum === undefined ? undefined : Number(e.sum.toFixed(9)) })).sort((a, b) => `${a.family}${a.labels.join()}`.localeCompare(`${b.family}${b.labels.join()}`));

describe("recordMetrics with kept series handles", () => {
  it("counts exactly as updates by labels, across clears (flushes) and folds (a family at its cap)", () => {
    for (const cap of [Infinity, 50, 7]) {
      const kept = new MetricStore(cap);
      const plain = new MetricStore(cap);
      const flushed: [SeriesEntry[], SeriesEntry[]][] = [];
      for (let i = 1; i <= 3_000; i++) {
        recordMetrics(kept, outcome(i));
        byLabels(plain, outcome(i));
        if (i % 700 === 0) {
          flushed.push([kept.toEntries(), plain.toEntries()]);
          kept.clear();
          plain.clear();
        }
      }
      flushed.push([kept.toEntries(), plain.toEntries()]);
      for (const [a, b] of flushed) expect(sorted(a)).toEqual(sorted(b));
    }
  });
});
