/**
 * A Backend compiled for the request path: its endpoints, balancer, limits and retry budget. The
 * configuration is immutable; the counters (in flight, budget, balancer state) are this isolate's.
 */
import type { Backend, BackendTrafficPolicy } from "../../../policies/schema/index.ts";
import { RetryBudget } from "../attempt/retry-budget.ts";
import { createBalancer, type Balancer, type EndpointRuntime } from "../lb/index.ts";

export interface BackendRuntime {
  /** "details", or "shop/details" outside the default namespace. */
  readonly name: string;
  /** Service binding name, for a Worker backend. */
  readonly service: string | undefined;
  readonly endpoints: readonly EndpointRuntime[];
  /** Endpoints a balancer may pick now. */
  eligible: readonly EndpointRuntime[];
  readonly balance: Balancer;
  readonly maxParallelRequests: number;
  readonly maxParallelRetries: number;
  readonly retryBudget: RetryBudget;
  inFlight: number;
  retriesInFlight: number;
}

const DEFAULT_BUDGET = { ratio: 0.2, minRetriesPerSecond: 10, ttl: "10s" };
const DEFAULT_LIMIT = 1024;

export function compileBackend(backend: Backend, policy: BackendTrafficPolicy["spec"] | undefined): BackendRuntime {
  const { namespace, name } = backend.metadata;
  const endpoints: EndpointRuntime[] = backend.spec.worker
    ? [{ id: `worker:${backend.spec.worker.service}`, origin: undefined, weight: 1, inFlight: 0 }]
    : backend.spec.endpoints!.map((endpoint) => {
        const origin = new URL(endpoint.url).origin;
        return { id: origin, origin, weight: endpoint.weight, inFlight: 0 };
      });
  return {
    name: namespace === "default" ? name : `${namespace}/${name}`,
    service: backend.spec.worker?.service,
    endpoints,
    eligible: endpoints,
    balance: createBalancer(policy?.loadBalancer),
    maxParallelRequests: policy?.circuitBreaker?.maxParallelRequests ?? DEFAULT_LIMIT,
    maxParallelRetries: policy?.circuitBreaker?.maxParallelRetries ?? DEFAULT_LIMIT,
    retryBudget: new RetryBudget(policy?.retryBudget ?? DEFAULT_BUDGET),
    inFlight: 0,
    retriesInFlight: 0,
  };
}
