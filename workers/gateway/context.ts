/** What the stages hand each other, typed: one Exchange per request, and the upstream request being built. */
import type { GatewayEnv } from "./env.ts";
import type { Outcome } from "./outcome.ts";
import type { BackendTarget, RouteEntry, RoutingTable } from "./table/index.ts";
import type { TraceContext } from "./trace-context.ts";

export type { GatewayEnv } from "./env.ts";

export type RequestBody =
  | { readonly kind: "none" }
  /** Buffered: can be sent any number of times (retries, mirror). */
  | { readonly kind: "buffered"; readonly bytes: ArrayBuffer }
  /** Streamed: can be sent once. */
  | { readonly kind: "stream"; readonly stream: ReadableStream<Uint8Array> };

/** The request the gateway will send upstream; filters edit it, each attempt sends a copy. */
export interface UpstreamRequest {
  method: string;
  /** Host the backend should see: the client's, or URLRewrite's. */
  host: string;
  /** Normalized path, as matched. */
  path: string;
  /** "?a=b", or "". */
  search: string;
  headers: Headers;
  body: RequestBody;
}

/** An end user's verified JWT (RequestAuthentication), for AuthorizationPolicy's requestPrincipals and claims. */
export interface EndUser {
  /** Istio's requestPrincipal: "<iss>/<sub>". */
  readonly principal: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * One request on its way through the stages (app.ts). Every field exists from the start (one object
 * shape for every request); a field is set by the stage named beside it, and the stages after it may
 * rely on it, as they could on a Hono variable.
 */
export interface Exchange {
  readonly request: Request;
  /** The client's request headers (read off the request once). */
  readonly headers: Headers;
  readonly env: GatewayEnv;
  readonly ctx: ExecutionContext;
  /** requestId */
  requestId: string;
  /** recordOutcome: the client's request URL, parsed once. */
  url: URL;
  /** recordOutcome */
  trace: TraceContext;
  /** recordOutcome */
  outcome: Outcome;
  /** prepareUpstream; splitTraffic puts a backendRef's copy here while the backend is called. */
  upstream: UpstreamRequest;
  /** matchRoute */
  table: RoutingTable;
  /** matchRoute: the matched route entry, its rule and the match that selected it. */
  route: RouteEntry;
  /** requestAuthentication: the end user's verified token, when one was sent and a RequestAuthentication applies. */
  endUser: EndUser | undefined;
  /** splitTraffic */
  target: BackendTarget;
  /** splitTraffic: the rule-level request, when a copy for the backendRef stands in `upstream`. */
  ruleUpstream: UpstreamRequest | undefined;
  /** rateLimit: the RateLimit headers of the limits that applied, for the answer. */
  rateLimitHeaders: Record<string, string> | undefined;
  /** The error that onError turned into the answer, if one did. */
  error: unknown;
}

/**
 * One stage of the request path. `request` runs on the way in, in the stages' order: it may answer
 * (a Response, or a thrown error that onError turns into one), and is synchronous unless it has to
 * wait. `response` runs on the way out, in reverse order, on whatever answer comes back through the
 * stage: the backend's, one a later stage made up, or its own; not one made of the stage's own error.
 */
export interface Stage {
  readonly request?: (x: Exchange) => Response | undefined | Promise<Response | undefined>;
  readonly response?: (x: Exchange, response: Response) => void;
}
