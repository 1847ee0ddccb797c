/**
 * A Backend compiled for the request path: its endpoints, balancer, limits and retry budget. The
 * configuration is immutable; the counters (in flight, budget, balancer state) are this isolate's and
 * outlive the table (backend-state.ts).
 */
import type { RegisteredEndpoint } from "../../../common/protocol.ts";
import { qualifiedName } from "../../../policies/qualified-name.ts";
import { outlierConfig } from "../../../common/outlier-detection.ts";
import { checkEndpointUrl, plaintextRefusal, registrationRefusal } from "../../../policies/endpoint-url.ts";
import { CircuitBreaker, RetryBudget, type Backend, type BackendTrafficPolicy, type PeerAuthenticationMode } from "../../../policies/schema/index.ts";
import type { BackendHealth } from "../health/backend-health.ts";
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
  /** How a retry picks (attempt/balance.ts): any endpoint (consistent hashing: the key owns one), or an untried one by weight or by the balancer. */
  readonly retries: RetryPicks;
  readonly maxParallelRequests: number;
  readonly maxParallelRetries: number;
  /** Who may call it (stages/authenticate.ts): the effective mode, its own or its PeerAuthentications' (peer-authentication.ts). */
  readonly peerAuthentication: PeerAuthenticationMode;
  /** Counters and budget, kept across table versions. */
  readonly state: BackendState;
}

const DEFAULT_BUDGET = RetryBudget.parse({});
const DEFAULT_LIMITS = CircuitBreaker.parse({});

/**
 * Registered endpoints join the static ones; draining ones take no new requests, so they are left out.
 * The endpoints, the counters and the health settings are set up on first use: most backends of a large
 * mesh see no traffic in a given isolate, and a table must be ready before its first request.
 */
export function compileBackend(
  backend: Backend,
  policy: BackendTrafficPolicy["spec"] | undefined,
  registered: readonly RegisteredEndpoint[],
  isolate: IsolateState,
  peerAuthentication: PeerAuthenticationMode = backend.spec.peerAuthentication?.mode ?? "PERMISSIVE",
): BackendRuntime {
  return new CompiledBackend(backend, policy, registered, isolate, peerAuthentication);
}

interface Built {
  readonly state: BackendState;
  readonly endpoints: readonly EndpointRuntime[];
  readonly health: BackendHealth;
}

export type RetryPicks = "any" | "by-weight" | "balancer";

class CompiledBackend implements BackendRuntime {
  readonly name: string;
  readonly service: string | undefined;
  readonly retries: RetryPicks;
  readonly maxParallelRequests: number;
  readonly maxParallelRetries: number;
  private built: Built | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly policy: BackendTrafficPolicy["spec"] | undefined,
    private readonly registered: readonly RegisteredEndpoint[],
    private readonly isolate: IsolateState,
    readonly peerAuthentication: PeerAuthenticationMode,
  ) {
    const { namespace, name } = backend.metadata;
    this.name = qualifiedName(namespace, name);
    this.service = backend.spec.worker?.service;
    const type = policy?.loadBalancer?.type ?? "RoundRobin";
    this.retries = type === "ConsistentHash" ? "any" : type === "RoundRobin" ? "by-weight" : "balancer";
    const limits = policy?.circuitBreaker ?? DEFAULT_LIMITS;
    this.maxParallelRequests = limits.maxParallelRequests;
    this.maxParallelRetries = limits.maxParallelRetries;
  }

  get state(): BackendState {
    return (this.built ?? this.build()).state;
  }

  get endpoints(): readonly EndpointRuntime[] {
    return (this.built ?? this.build()).endpoints;
  }

  get eligible(): readonly EndpointRuntime[] {
    const { health, endpoints } = this.built ?? this.build();
    return health.eligible(endpoints, Date.now());
  }

  get balance(): Balancer {
    return (this.built ?? this.build()).state.balance;
  }

  private build(): Built {
    const { backend, policy, name } = this;
    const state = this.isolate.backends.of(name, policy?.retryBudget ?? DEFAULT_BUDGET, policy?.loadBalancer);
    const endpoints: EndpointRuntime[] = [];
    const ids = new Set<string>();
    if (backend.spec.worker) endpoints.push(endpointOf(state, `worker:${backend.spec.worker.service}`, undefined, 1));
    const add = (endpoint: { url: string; weight: number }) => {
      const origin = new URL(endpoint.url).origin;
      if (ids.has(origin)) return;
      ids.add(origin);
      endpoints.push(endpointOf(state, origin, origin, endpoint.weight));
    };
    for (const endpoint of backend.spec.endpoints ?? []) add(endpoint);
    for (const endpoint of this.registered) if (!endpoint.draining && mayServe(name, backend, endpoint.url)) add(endpoint);
    const health = this.isolate.health.of(name);
    health.configure(policy?.healthCheck && outlierConfig(policy.healthCheck.passive), endpoints.map((endpoint) => endpoint.id));
    return (this.built = { state, endpoints, health });
  }
}

/**
 * A registered endpoint is used only while the Backend, as this version declares it, would still take
 * its registration: one registered before `registration` was narrowed, or by an older control plane
 * without the address checks, or plain http:// outside loopback to a Backend that no longer opts out of
 * TLS, is left out here rather than until its TTL runs out.
 */
function mayServe(name: string, backend: Backend, url: string): boolean {
  const checked = checkEndpointUrl(url);
  return checked.ok && registrationRefusal(name, backend.spec, checked.host) === undefined && plaintextRefusal(name, backend.spec, checked) === undefined;
}
