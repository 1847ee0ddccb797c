/**
 * The outcome sink that feeds endpoint health: each attempt goes to the backend's local detector, and
 * at most once per report interval (and never two at once) the gathered stats go to the backend's
 * Durable Object, whose answer brings this isolate the global ejections. Runs after the response
 * (`waitUntil`); a slow or failing Durable Object only delays what this isolate learns.
 */
import type { BackendCoordinator } from "../../../durable-objects/backend-coordinator.ts";
import type { OutcomeSink } from "../outcome.ts";
import { withTimeout } from "../with-timeout.ts";
import { classify, healthOf, type BackendHealth } from "./backend-health.ts";

export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
const REPORT_TIMEOUT_MS = 2_000;

interface HealthEnv {
  BACKEND_COORDINATOR?: DurableObjectNamespace<BackendCoordinator>;
  HEALTH_REPORT_INTERVAL_MS?: string;
}

export const reportHealth: OutcomeSink = async (outcome, env) => {
  if (!outcome.backend) return;
  const health = healthOf(outcome.backend);
  if (!health.config) return;
  const now = Date.now();
  for (const attempt of outcome.tries) if (attempt.endpoint) health.record(attempt.endpoint, classify(attempt.status), now);
  await maybeReport(health, outcome.backend, env as HealthEnv, now);
};

async function maybeReport(health: BackendHealth, backend: string, env: HealthEnv, now: number): Promise<void> {
  const namespace = env.BACKEND_COORDINATOR;
  const interval = Number(env.HEALTH_REPORT_INTERVAL_MS ?? DEFAULT_REPORT_INTERVAL_MS);
  // The first outcome reports at once, so a new isolate learns the global ejections quickly.
  if (!namespace || health.reporting || (health.lastReportAt && now - health.lastReportAt < interval)) return;
  health.reporting = true;
  health.lastReportAt = now;
  const reports = health.drainReports();
  try {
    const stub = namespace.get(namespace.idFromName(backend));
    const call = stub.report({ config: health.config!, totalEndpoints: health.endpointCount, reports });
    health.applySnapshot(await withTimeout(call, REPORT_TIMEOUT_MS));
  } catch (error) {
    console.error(JSON.stringify({ level: "warn", message: "health report failed; keeping the last known ejections", backend, error: String(error) }));
  } finally {
    health.reporting = false;
  }
}
