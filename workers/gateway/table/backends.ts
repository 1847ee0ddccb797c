/**
 * A Backend compiled for the request path: its endpoints, balancer, limits and retry budget. The
 * configuration is immutable; the counters (in flight, budget, balancer state) are this isolate's.
 */
import type { RegisteredEndpoint } from "../../../durable-objects/types.ts";
import { outlierConfig } from "../../../durable-objects/outlier-detection.ts";
import type { Backend, BackendTrafficPolicy } from "../../../policies/schema/index.ts";
import { RetryBudget } from "../attempt/retry-budget.ts";
import { healthOf } from "../health/backend-health.ts";
import { createBalancer, type Balancer, type EndpointRuntime } from "../lb/index.ts";

export interface BackendRuntime {
  /** "details", or "shop/details" outside the default namespace. */
  readonly name: string;
  /** Service binding name, for a Worker backend. */
  readonly service: string | undefined;
  readonly endpoints: readonly EndpointRuntime[];
  /** Endpoints a balancer may pick now (not ejected, not draining). */
  readonly eligible: readonly EndpointRuntime[];
  readonly balance: Balancer;
  /** Whether a retry should prefer an endpoint the request has not tried (not under consistent hashing). */
  readonly retriesAvoidTried: boolean;
  readonly maxParallelRequests: number;
  readonly maxParallelRetries: number;
  readonly retryBudget: RetryBudget;
  inFlight: number;
  retriesInFlight: number;
}

const DEFAULT_BUDGET = { ratio: 0.2, minRetriesPerSecond: 10, ttl: "10s" };
const DEFAULT_LIMIT = 1024;

/** Registered endpoints join the static ones; draining ones take no new requests, so they are left out. */
export function compileBackend(
  backend: Backend,
  policy: BackendTrafficPolicy["spec"] | undefined,
  registered: readonly RegisteredEndpoint[] = [],
): BackendRuntime {
  const { namespace, name: objectName } = backend.metadata;
  const name = namespace === "default" ? objectName : `${namespace}/${objectName}`;
  const endpoints: EndpointRuntime[] = [];
  if (backend.spec.worker) endpoints.push({ id: `worker:${backend.spec.worker.service}`, origin: undefined, weight: 1, inFlight: 0 });
  for (const endpoint of [...(backend.spec.endpoints ?? []), ...registered.filter((e) => !e.draining)]) {
    const origin = new URL(endpoint.url).origin;
    if (!endpoints.some((known) => known.id === origin)) endpoints.push({ id: origin, origin, weight: endpoint.weight, inFlight: 0 });
  }
  const health = healthOf(name);
  health.configure(policy?.healthCheck && outlierConfig(policy.healthCheck.passive), endpoints.length);
  return {
    name,
    service: backend.spec.worker?.service,
    endpoints,
    get eligible() {
      return health.eligible(endpoints, Date.now());
    },
    balance: createBalancer(policy?.loadBalancer),
    retriesAvoidTried: policy?.loadBalancer?.type !== "ConsistentHash",
    maxParallelRequests: policy?.circuitBreaker?.maxParallelRequests ?? DEFAULT_LIMIT,
    maxParallelRetries: policy?.circuitBreaker?.maxParallelRetries ?? DEFAULT_LIMIT,
    retryBudget: new RetryBudget(policy?.retryBudget ?? DEFAULT_BUDGET),
    inFlight: 0,
    retriesInFlight: 0,
  };
}
