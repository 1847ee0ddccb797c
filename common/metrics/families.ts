/**
 * The mesh's metric families: names, units and labels after Istio's standard metrics
 * (istio_requests_total, istio_request_duration_milliseconds...), in Prometheus base units
 * (seconds, bytes) with `_total` on counters, so `promtool check metrics` accepts them. Route level
 * is what the caller saw, after retries; attempt level is each try, as Linkerd separates them.
 */
export type MetricType = "counter" | "histogram";

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  /** Upper bounds, seconds or bytes, ascending; histograms only. */
  readonly buckets?: readonly number[];
}

/** Edge latencies: from a cached answer (sub-millisecond) to a slow origin (seconds). */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** The mesh's own time per request: microseconds to tens of milliseconds. */
export const OVERHEAD_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] as const;
export const SIZE_BUCKETS_BYTES = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216] as const;

const ROUTE_LABELS = ["source_workload", "source_principal", "destination_service", "route", "response_code", "reason"] as const;
const ATTEMPT_LABELS = ["source_workload", "destination_service", "endpoint", "response_code", "result"] as const;

export const FAMILIES = {
  requests: { name: "edgemesh_requests_total", help: "Requests through the mesh, as the caller saw them (after retries).", type: "counter", labels: ROUTE_LABELS },
  requestDuration: {
    name: "edgemesh_request_duration_seconds",
    help: "Time from the request's arrival to its response, retries included.",
    type: "histogram",
    labels: ["source_workload", "source_principal", "destination_service", "route", "response_code"],
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  meshDuration: {
    name: "edgemesh_mesh_duration_seconds",
    help: "Time the mesh itself spent on a request: its latency less the upstream's.",
    type: "histogram",
    labels: ["destination_service", "route"],
    buckets: OVERHEAD_BUCKETS_SECONDS,
  },
  requestBytes: { name: "edgemesh_request_bytes_total", help: "Request body bytes sent upstream, as declared by Content-Length.", type: "counter", labels: ["source_workload", "destination_service", "route"] },
  responseBytes: { name: "edgemesh_response_bytes_total", help: "Response body bytes answered, as declared by Content-Length.", type: "counter", labels: ["source_workload", "destination_service", "route"] },
  attempts: { name: "edgemesh_attempts_total", help: "Tries at an endpoint: every attempt, retries included.", type: "counter", labels: ATTEMPT_LABELS },
  attemptDuration: {
    name: "edgemesh_attempt_duration_seconds",
    help: "Time of one try at an endpoint.",
    type: "histogram",
    labels: ["destination_service", "endpoint"],
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  retries: { name: "edgemesh_retries_total", help: "Attempts after the first.", type: "counter", labels: ["destination_service", "route"] },
  retryBudgetExhausted: { name: "edgemesh_retry_budget_exhausted_total", help: "Retries not made because the retry budget was spent.", type: "counter", labels: ["destination_service"] },
  rateLimited: { name: "edgemesh_rate_limited_total", help: "Requests refused by a rate limit (429).", type: "counter", labels: ["source_workload", "destination_service", "route"] },
  denied: { name: "edgemesh_denied_total", help: "Requests refused by an AuthorizationPolicy (403).", type: "counter", labels: ["source_workload", "destination_service", "policy"] },
  // A credential is checked before the weighted choice of backend: the route says where the call was going.
  unauthenticated: { name: "edgemesh_unauthenticated_total", help: "Requests whose credential was refused (401), by refusal code.", type: "counter", labels: ["route", "code"] },
  spansDropped: { name: "edgemesh_trace_spans_dropped_total", help: "Spans dropped because the export queue was full.", type: "counter", labels: [] },
  ejections: { name: "edgemesh_ejections_total", help: "Endpoints ejected by an isolate's own outlier detector (the coordinator's global ejections reach isolates as state, not as events).", type: "counter", labels: ["destination_service", "endpoint"] },
} as const satisfies Record<string, Family>;

export type FamilyKey = keyof typeof FAMILIES;
