/**
 * The outcome sink that feeds endpoint health: each attempt goes to the backend's local detector, and
 * at most once per report interval (and never two at once) the gathered stats go to the backend's
 * Durable Object, whose answer brings this isolate the global ejections. The first outcome of an
 * isolate reports at once; later ones are batched, and a batch left over when traffic stops is sent
 * when its interval is up. Runs after the response (`waitUntil`); a slow or failing Durable Object
 * only delays what this isolate learns.
 */
import { coordinatorOf, type Namespace } from "../../../common/protocol.ts";
import { healthFailure } from "../attempt/classify.ts";
import { sleep } from "../attempt/sleep.ts";
import type { OutcomeSink } from "../outcome.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import type { BackendHealth, HealthByBackend } from "./backend-health.ts";

export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
const REPORT_TIMEOUT_MS = 2_000;

/** Synchronous unless it schedules a report: only then does the request's invocation stay open. */
export const reportHealth =
  (healthByBackend: HealthByBackend, onEjection?: (backend: string, endpoint: string) => void): OutcomeSink =>
  (outcome, env) => {
    if (!outcome.backend) return;
    const health = healthByBackend.find(outcome.backend);
    if (!health?.config) return;
    const now = Date.now();
    for (const attempt of outcome.tries) {
      if (attempt.endpoint && health.record(attempt.endpoint, healthFailure(attempt), now)) onEjection?.(outcome.backend, attempt.endpoint);
    }
    const namespace = env.BACKEND_COORDINATOR;
    if (!namespace || health.reportScheduled) return;
    const interval = Number(env.HEALTH_REPORT_INTERVAL_MS ?? DEFAULT_REPORT_INTERVAL_MS);
    health.reportScheduled = true;
    return reportAfter(health.lastReportAt ? health.lastReportAt + interval - now : 0, health, outcome.backend, namespace);
  };

async function reportAfter(wait: number, health: BackendHealth, backend: string, namespace: Namespace): Promise<void> {
  try {
    if (wait > 0) await sleep(wait);
    await report(health, backend, namespace);
  } finally {
    health.reportScheduled = false;
  }
}

async function report(health: BackendHealth, backend: string, namespace: Namespace): Promise<void> {
  health.lastReportAt = Date.now();
  const reports = health.drainReports();
  try {
    const call = coordinatorOf(namespace, backend).report({ config: health.config!, totalEndpoints: health.endpointIds.length, endpoints: health.endpointIds, reports });
    health.applySnapshot(await withTimeout(call, REPORT_TIMEOUT_MS));
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", message: "health report failed; keeping the last known ejections", backend, error: String(error) }));
  }
}
