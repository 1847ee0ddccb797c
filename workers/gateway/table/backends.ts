/**
 * A Backend compiled for the request path: its endpoints, balancer, limits and retry budget. The
 * configuration is immutable; the counters (in flight, budget, balancer state) are this isolate's and
 * outlive the table (backend-state.ts).
 */
import type { RegisteredEndpoint } from "../../../common/protocol.ts";
import { outlierConfig } from "../../../common/outlier-detection.ts";
import { CircuitBreaker, RetryBudget, type Backend, type BackendTrafficPolicy, type PeerAuthenticationMode } from "../../../policies/schema/index.ts";
import type { Balancer, EndpointRuntime } from "../lb/index.ts";
import type { IsolateState } from "../isolate-state.ts";
import { endpointOf, type BackendState } from "./backend-state.ts";

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
  /** Who may call it (stages/authenticate.ts); PERMISSIVE unless the Backend says otherwise. */
  readonly peerAuthentication: PeerAuthenticationMode;
  /** Counters and budget, kept across table versions. */
  readonly state: BackendState;
}

const DEFAULT_BUDGET = RetryBudget.parse({});
const DEFAULT_LIMITS = CircuitBreaker.parse({});

/** Registered endpoints join the static ones; draining ones take no new requests, so they are left out. */
export function compileBackend(
  backend: Backend,
  policy: BackendTrafficPolicy["spec"] | undefined,
  registered: readonly RegisteredEndpoint[],
  isolate: IsolateState,
): BackendRuntime {
  const { namespace, name: objectName } = backend.metadata;
  const name = namespace === "default" ? objectName : `${namespace}/${objectName}`;
  const state = isolate.backends.of(name, policy?.retryBudget ?? DEFAULT_BUDGET, policy?.loadBalancer);
  const endpoints: EndpointRuntime[] = [];
  if (backend.spec.worker) endpoints.push(endpointOf(state, `worker:${backend.spec.worker.service}`, undefined, 1));
  for (const endpoint of [...(backend.spec.endpoints ?? []), ...registered.filter((e) => !e.draining)]) {
    const origin = new URL(endpoint.url).origin;
    if (!endpoints.some((known) => known.id === origin)) endpoints.push(endpointOf(state, origin, origin, endpoint.weight));
  }
  const health = isolate.health.of(name);
  health.configure(policy?.healthCheck && outlierConfig(policy.healthCheck.passive), endpoints.map((endpoint) => endpoint.id));
  return {
    name,
    service: backend.spec.worker?.service,
    endpoints,
    get eligible() {
      return health.eligible(endpoints, Date.now());
    },
    balance: state.balance,
    retriesAvoidTried: policy?.loadBalancer?.type !== "ConsistentHash",
    maxParallelRequests: (policy?.circuitBreaker ?? DEFAULT_LIMITS).maxParallelRequests,
    maxParallelRetries: (policy?.circuitBreaker ?? DEFAULT_LIMITS).maxParallelRetries,
    peerAuthentication: backend.spec.peerAuthentication?.mode ?? "PERMISSIVE",
    state,
  };
}
