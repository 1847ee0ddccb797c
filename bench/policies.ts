/**
 * The gateway's policy for the benchmark: 50 HTTPRoutes, as a mesh of some size would have. The
 * benchmarked request goes to api.bench.mesh/api/v1/orders/42, whose rule is fifth in precedence on
 * its host (an Exact, a regex, a longer prefix and a header match are tried and fail first). Its
 * backend balances over the three upstream endpoints (LeastRequest) with retries, a retry budget,
 * a circuit breaker and both timeouts configured; no faults. Other routes point at decoy backends
 * that the benchmark never reaches.
 *
 * With the control plane on (the default), the backend also has passive health checking (outlier
 * detection: every attempt feeds the isolate's detector, which reports to the BackendCoordinator),
 * and the benchmarked route a global rate limit too high to ever deny (every request takes a token
 * leased from a RateLimiter). A second route, limited.bench.mesh, has a global limit that the
 * rate-limit measurement exceeds several times over.
 */
type Spec = Record<string, unknown>;

export const BENCH_HOST = "api.bench.mesh";
export const BENCH_PATH = "/api/v1/orders/42";
/** The route and rule the benchmarked request must match. */
export const BENCH_ROUTE = "api-orders";
/** The global rule on the benchmarked route (never denies: it is there for its cost). */
export const BENCH_RULE = "orders-route";

export const LIMITED_HOST = "limited.bench.mesh";
export const LIMITED_PATH = "/api/v1/orders/42";
/** The global rule whose accuracy is measured: `limit` requests per epoch-aligned hour. */
export const LIMITED_RULE = "limited";
export const LIMITED_WINDOW_MS = 3_600_000;

export interface BenchOptions {
  /** Health checking on `orders` and global rate limits on the routes (default true). */
  controlPlane?: boolean;
  /** Requests per hour allowed on limited.bench.mesh (default 20000). */
  limit?: number;
}

/** Port 9 (discard): nothing listens there, and nothing is sent there. */
export const DECOY_ORIGIN = "http://127.0.0.1:9";
const DECOYS = ["users", "catalog", "cart", "search", "auth"];
// 41 + 7 api routes + limited + catch-all = 50.
const SERVICES = 41;

const backend = (name: string, urls: string[], extra: Spec = {}) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "Backend",
  metadata: { name },
  spec: { endpoints: urls.map((url, i) => ({ url, zone: `zone-${i}`, ...extra })) },
});

const route = (name: string, hostnames: string[] | undefined, rules: Spec[]) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name },
  spec: { ...(hostnames && { hostnames }), rules },
});

const to = (name: string, rule: Spec = {}): Spec => ({ backendRefs: [{ name }], ...rule });
const prefix = (value: string) => ({ path: { type: "PathPrefix", value } });

export function benchPolicies(upstreamPorts: readonly number[], { controlPlane = true, limit = 20_000 }: BenchOptions = {}): unknown[] {
  const decoy = (i: number) => DECOYS[i % DECOYS.length]!;
  const services = Array.from({ length: SERVICES }, (_, i) => {
    const name = `svc-${String(i).padStart(2, "0")}`;
    return route(name, [`${name}.bench.mesh`], [
      to(decoy(i), { matches: [{ ...prefix("/v2"), headers: [{ name: "x-api-version", value: "2" }] }] }),
      to(decoy(i + 1), { matches: [prefix("/v1"), prefix("/healthz")], timeouts: { request: "5s" } }),
    ]);
  });
  const api = [
    route("api-admin", [BENCH_HOST], [to("auth", { matches: [{ path: { type: "Exact", value: "/admin" } }] })]),
    route("api-internal", [BENCH_HOST], [to("auth", { matches: [{ path: { type: "RegularExpression", value: "/api/v[0-9]+/internal/.*" } }] })]),
    route("api-orders-archive", [BENCH_HOST], [to("search", { matches: [prefix("/api/v1/orders/archive")] })]),
    route("api-orders-beta", [BENCH_HOST], [to("cart", { matches: [{ ...prefix("/api/v1/orders"), headers: [{ name: "x-tenant", value: "beta" }] }] })]),
    route(BENCH_ROUTE, [BENCH_HOST], [
      to("orders", {
        matches: [prefix("/api/v1/orders")],
        timeouts: { request: "2s", backendRequest: "500ms" },
        filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-mesh-route", value: BENCH_ROUTE }] } }],
      }),
    ]),
    route("api-default", [BENCH_HOST], [to("catalog", { matches: [prefix("/")] })]),
    route("bench-wildcard", ["*.bench.mesh"], [to("catalog")]),
  ];
  // Routes without hostnames are candidates on every host, after the host's own.
  const catchAll = route("catch-all", undefined, [to("users", { matches: [prefix("/")] })]);
  const limited = route("limited", [LIMITED_HOST], [to("orders", { matches: [prefix("/")] })]);
  const routes = [...services, ...api, limited, catchAll];
  if (routes.length !== 50) throw new Error(`expected 50 routes, built ${routes.length}`);

  return [
    backend("orders", upstreamPorts.map((port) => `http://127.0.0.1:${port}`)),
    ...DECOYS.map((name) => backend(name, [DECOY_ORIGIN])),
    {
      apiVersion: "edgemesh.dev/v1alpha1",
      kind: "BackendTrafficPolicy",
      metadata: { name: "orders" },
      spec: {
        targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "orders" }],
        loadBalancer: { type: "LeastRequest" },
        retry: {
          numRetries: 2,
          retryOn: { triggers: ["connect-failure", "reset", "gateway-error"] },
          perRetry: { backOff: { baseInterval: "25ms", maxInterval: "250ms" } },
        },
        retryBudget: { ratio: 0.2, minRetriesPerSecond: 10 },
        // Above the 50 concurrent connections wrk opens, so the breaker never trips.
        circuitBreaker: { maxParallelRequests: 1000 },
        // Envoy's defaults but one endpoint of three may be out; the upstreams never fail, so nothing is ejected.
        ...(controlPlane && { healthCheck: { passive: { consecutive5XxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 34 } } }),
      },
    },
    // Route-level: a BackendTrafficPolicy on an HTTPRoute may not set the Backend-only fields above.
    ...(controlPlane ? [routeLimit(BENCH_ROUTE, BENCH_RULE, 1_000_000_000), routeLimit("limited", LIMITED_RULE, limit)] : []),
    ...routes,
  ];
}

/** One bucket for the whole route (no clientSelectors), counted globally, per epoch-aligned hour. */
const routeLimit = (routeName: string, rule: string, requests: number) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "BackendTrafficPolicy",
  metadata: { name: `${routeName}-limit` },
  spec: {
    targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName }],
    rateLimit: { global: { rules: [{ name: rule, limit: { requests, unit: "Hour" } }] } },
  },
});
