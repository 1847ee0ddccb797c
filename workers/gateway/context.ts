/** What the stages hand each other, typed: Hono variables for the request, and the upstream request being built. */
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

export type MeshEnv = {
  Bindings: GatewayEnv;
  Variables: {
    requestId: string;
    /** The client's request URL, parsed once. */
    url: URL;
    trace: TraceContext;
    outcome: Outcome;
    table: RoutingTable;
    upstream: UpstreamRequest;
    /** The matched route entry: its rule, and the match that selected it. */
    route: RouteEntry;
    target: BackendTarget;
  };
};
