/**
 * The peer in the benchmark: workers/peer, the Hono proxy Worker a Workers user writes without a mesh,
 * with the routes of bench/policies.ts. It learns the orders endpoints (round robin over all three)
 * and the decoy origin from text bindings, as the gateway learns them from its policies. Before it is
 * measured, requests that the policy sends elsewhere must land on the route the policy names: the
 * benchmarked request is fifth on its host in the peer as in the gateway.
 */
import { join } from "node:path";
import { probe } from "./check.ts";
import { BENCH_HOST, BENCH_ROUTE, DECOY_ORIGIN } from "./policies.ts";
import { PORT_HEADER } from "./upstream.ts";
import type { Binding } from "./workerd.ts";

export const PEER_WRANGLER_TOML = join(import.meta.dirname, "..", "workers", "peer", "wrangler.toml");

/** `decoyOrigin`: where the routes the benchmark does not measure go (the gateway's decoys: nowhere). */
export function peerBindings(upstreamPorts: readonly number[], decoyOrigin = DECOY_ORIGIN): Binding[] {
  return [
    { name: "ORDERS_ORIGINS", text: upstreamPorts.map((port) => `http://127.0.0.1:${port}`).join(",") },
    { name: "DECOY_ORIGIN", text: decoyOrigin },
  ];
}

/** Requests and the route of bench/policies.ts each must take: host, path, headers, route name. */
const ROUTES: [string, string, Record<string, string>, string][] = [
  [BENCH_HOST, "/admin", {}, "api-admin"],
  [BENCH_HOST, "/api/v2/internal/jobs", {}, "api-internal"],
  [BENCH_HOST, "/api/v1/orders/archive/42", {}, "api-orders-archive"],
  [BENCH_HOST, "/api/v1/orders/42", { "x-tenant": "beta" }, "api-orders-beta"],
  [BENCH_HOST, "/api/v1/orders", {}, BENCH_ROUTE],
  [BENCH_HOST, "/api/v1/ordersX", {}, "api-default"],
  ["svc-07.bench.mesh", "/v2/items", { "x-api-version": "2" }, "svc-07"],
  ["svc-40.bench.mesh", "/healthz", {}, "svc-40"],
  ["svc-07.bench.mesh", "/v2/items", {}, "bench-wildcard"],
  ["other.bench.mesh", "/", {}, "bench-wildcard"],
  ["limited.bench.mesh", "/api/v1/orders/42", {}, "limited"],
  ["example.com", "/api/v1/orders/42", {}, "catch-all"],
];

/** Checks the peer's route table against the policy, with the decoy origin answering on `decoyPort`. */
export async function checkPeerRoutes(port: number, ordersPorts: readonly number[], decoyPort: number): Promise<void> {
  for (const [host, path, headers, route] of ROUTES) {
    const answer = await probe(`http://127.0.0.1:${port}${path}`, host, headers);
    const landed = Number(answer.headers[PORT_HEADER]);
    const expectedPorts = route === BENCH_ROUTE || route === "limited" ? ordersPorts : [decoyPort];
    if (answer.status !== 200 || answer.headers["x-mesh-route"] !== route || !expectedPorts.includes(landed)) {
      throw new Error(`peer_hono: GET ${path} (Host: ${host}, ${JSON.stringify(headers)}) should take route ${route}, ` +
        `got ${answer.status} from route ${String(answer.headers["x-mesh-route"])} at port ${landed}`);
    }
  }
}
