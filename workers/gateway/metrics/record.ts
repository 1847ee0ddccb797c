/**
 * The outcome record as metrics (common/metrics/families.ts): route level once per request, attempt
 * level once per try. Labels after Istio's: an anonymous caller is source_workload "unknown".
 */
import type { MetricStore } from "../../../common/metrics/store.ts";
import { upstreamTimeMs, type Outcome } from "../outcome.ts";

const UNKNOWN = "unknown";

/** "spiffe://td/ns/shop/sa/cart" → "cart". */
function workloadOf(id: string): string {
  const at = id.lastIndexOf("/sa/");
  return at < 0 ? UNKNOWN : id.slice(at + 4);
}

export function recordMetrics(store: MetricStore, outcome: Outcome): void {
  const principal = outcome.source && "id" in outcome.source ? outcome.source.id : UNKNOWN;
  const workload = principal === UNKNOWN ? UNKNOWN : workloadOf(principal);
  const destination = outcome.backend ?? UNKNOWN;
  const route = outcome.route ?? "";
  const code = String(outcome.status);
  store.inc("requests", [workload, principal, destination, route, code, outcome.reason ?? ""]);
  store.observe("requestDuration", [workload, principal, destination, route, code], outcome.latencyMs / 1000);
  for (const attempt of outcome.tries) {
    const endpoint = attempt.endpoint ?? "";
    store.inc("attempts", [workload, destination, endpoint, String(attempt.status), attempt.result]);
    store.observe("attemptDuration", [destination, endpoint], attempt.latencyMs / 1000);
  }
  store.observe("meshDuration", [destination, route], Math.max(0, outcome.latencyMs - upstreamTimeMs(outcome)) / 1000);
  if (outcome.requestBytes) store.inc("requestBytes", [workload, destination, route], outcome.requestBytes);
  if (outcome.responseBytes) store.inc("responseBytes", [workload, destination, route], outcome.responseBytes);
  if (outcome.attempts > 1) store.inc("retries", [destination, route], outcome.attempts - 1);
  if (outcome.retryBudgetExhausted) store.inc("retryBudgetExhausted", [destination]);
  if (outcome.reason === "rate_limited") store.inc("rateLimited", [workload, destination, route]);
  if (outcome.authz?.decision === "deny" && !outcome.authz.dryRun) store.inc("denied", [workload, destination, outcome.authz.policy ?? ""]);
  if (outcome.source && "refused" in outcome.source) store.inc("unauthenticated", [route, outcome.source.refused]);
}
