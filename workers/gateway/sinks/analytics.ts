/**
 * On Cloudflare, an optional Workers Analytics Engine dataset (binding ANALYTICS) gets one data
 * point per request from the outcome record, for SQL over every request without the mesh's own
 * aggregation: writeDataPoint is fire-and-forget (the runtime batches it), so nothing waits.
 * Layout, for queries: index1 the backend (or the route, for answers without one); blob1 route,
 * blob2 backend, blob3 endpoint, blob4 status, blob5 reason, blob6 caller (SPIFFE ID), blob7 method,
 * blob8 request id, blob9 trace id; double1 latency ms, double2 attempts, double3 the mesh's own ms,
 * double4 request bytes, double5 response bytes.
 */
import { upstreamTimeMs, type OutcomeSink } from "../outcome.ts";

/** The platform's limit for an index. */
const INDEX_BYTES = 96;

export const writeAnalytics: OutcomeSink = (outcome, env) => {
  const dataset = env.ANALYTICS;
  if (!dataset) return;
  const source = outcome.source && "id" in outcome.source ? outcome.source.id : "";
  dataset.writeDataPoint({
    indexes: [(outcome.backend ?? outcome.route ?? "").slice(0, INDEX_BYTES)],
    blobs: [outcome.route ?? "", outcome.backend ?? "", outcome.endpoint ?? "", String(outcome.status), outcome.reason ?? "", source, outcome.method, outcome.requestId, outcome.traceId],
    doubles: [outcome.latencyMs, outcome.attempts, Math.max(0, outcome.latencyMs - upstreamTimeMs(outcome)), outcome.requestBytes ?? 0, outcome.responseBytes ?? 0],
  });
};
