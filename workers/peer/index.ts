/**
 * The benchmark's peer: the Worker a Workers user writes instead of adopting a mesh. A Hono app with
 * `hono/proxy` (forwarding as its docs show), routing by host and path (`getPath` puts the host in
 * front of the path: hono.dev/docs/api/routing#routing-with-host-header-value), round robin over the
 * orders origins, `hono/request-id`, and Hono's `timeout`.
 * Its routes are those of the gateway's benchmark policy (bench/policies.ts), in the same order of
 * precedence: on api.bench.mesh the benchmarked request passes an Exact, a regex, a longer prefix and
 * a header match before its own route. No retries, breaker, health checks or rate limits: a Worker
 * that had them would be a mesh.
 */
import { Hono, type Context, type Next } from "hono";
import { proxy } from "hono/proxy";
import { requestId, type RequestIdVariables } from "hono/request-id";
import { timeout } from "hono/timeout";
import { getPath } from "hono/utils/url";

interface PeerEnv {
  /** The orders origins, comma-separated, e.g. "http://127.0.0.1:9101,http://127.0.0.1:9102". */
  ORDERS_ORIGINS: string;
  /** The origin of every other service (the benchmark never reaches them). */
  DECOY_ORIGIN: string;
}

type Peer = { Bindings: PeerEnv; Variables: RequestIdVariables };

/** Round robin over a comma-separated list of origins, read from the environment once per isolate. */
function roundRobin(list: (env: PeerEnv) => string): (env: PeerEnv) => string {
  let origins: string[] | undefined;
  let next = 0;
  return (env) => {
    origins ??= list(env).split(",");
    return origins[next++ % origins.length]!;
  };
}

const orders = roundRobin((env) => env.ORDERS_ORIGINS);
const decoy = (env: PeerEnv) => env.DECOY_ORIGIN;

/** Forwards to the origin `pick` names, with forwarding headers and the request id, as Hono's proxy docs do. */
const forward = (route: string, pick: (env: PeerEnv) => string) => async (c: Context<Peer>) => {
  const url = new URL(c.req.url);
  const id = c.get("requestId");
  const res = await proxy(pick(c.env) + url.pathname + url.search, {
    ...c.req,
    headers: {
      ...c.req.header(),
      "X-Forwarded-For": c.req.header("cf-connecting-ip"),
      "X-Forwarded-Host": url.host,
      "X-Forwarded-Proto": url.protocol.slice(0, -1),
      "X-Request-Id": id,
    },
  });
  // requestId's c.header() is staged on a response a returned Response replaces: set it here.
  res.headers.set("X-Request-Id", id);
  res.headers.set("X-Mesh-Route", route);
  return res;
};

/** A route that also matches a header: without it, the request goes on to the next route. */
const whenHeader = (name: string, value: string, handler: (c: Context<Peer>) => Promise<Response>) =>
  (c: Context<Peer>, next: Next) => (c.req.header(name) === value ? handler(c) : next());

const app = new Hono<Peer>({ getPath: (request) => `/${request.headers.get("host")}${getPath(request)}` });

app.use(requestId());

// The benchmarked host, in the gateway's order of precedence.
const api = "/api.bench.mesh";
app.all(`${api}/admin`, forward("api-admin", decoy));
app.all(`${api}/api/:version{v[0-9]+}/internal/*`, forward("api-internal", decoy));
app.all(`${api}/api/v1/orders/archive/*`, forward("api-orders-archive", decoy));
app.all(`${api}/api/v1/orders/*`, whenHeader("x-tenant", "beta", forward("api-orders-beta", decoy)));
app.all(`${api}/api/v1/orders/*`, timeout(2000), forward("api-orders", orders));
app.all(`${api}/*`, forward("api-default", decoy));

// 41 services, one host each: a versioned API behind a header, and v1 with a timeout.
for (let i = 0; i < 41; i++) {
  const name = `svc-${String(i).padStart(2, "0")}`;
  const host = `/${name}.bench.mesh`;
  app.all(`${host}/v2/*`, whenHeader("x-api-version", "2", forward(name, decoy)));
  for (const path of ["/v1/*", "/healthz/*"]) app.all(`${host}${path}`, timeout(5000), forward(name, decoy));
}

app.all("/limited.bench.mesh/*", forward("limited", orders));
app.all("/:host{.+\\.bench\\.mesh}/*", forward("bench-wildcard", decoy));
app.all("/:host/*", forward("catch-all", decoy));

export default app;
