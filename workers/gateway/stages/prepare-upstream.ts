/**
 * Proxy hygiene: starts the upstream request from the client's, minus hop-by-hop headers, the mesh's
 * own x-edgemesh-* headers, Expect and path or method overrides, with x-forwarded-for / -proto / -host, the request id, and a
 * traceparent naming the gateway's span.
 */
import type { RequestBody, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import { CALLER_TOKEN_HEADER, WORKLOAD_TOKEN_HEADER } from "../../../common/identity/request-token.ts";
import { stripHeaders } from "../strip-headers.ts";
import { formatTraceparent } from "../trace-context.ts";

// Expect: 100-continue is between the client and this hop. Forwarded, the upstream would answer
// 100 Continue, which fetch() hands back as if it were the response (Envoy strips it too).
// The workload token is this hop's credential, and only the mesh speaks for the caller
// (stages/authenticate.ts, stages/caller-token.ts): client-sent identity headers never go upstream.
// Some frameworks and proxies take these for the request's real path or method (IIS and Symfony:
// X-Original-URL; Spring's ForwardedHeaderFilter: X-Forwarded-Prefix before the path; nginx and
// Traefik auth setups: X-Original-URI, X-Forwarded-Uri; Envoy: X-Envoy-Original-Path; Express's
// method-override, Rails, Spring: X-HTTP-Method-Override): the mesh routes and authorizes the path
// and method it forwards, which they would replace upstream.
const OVERRIDES = [
  ...["x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-forwarded-prefix", "x-envoy-original-path"],
  ...["x-http-method-override", "x-http-method", "x-method-override"],
];
const NOT_FORWARDED = new Set(["expect", WORKLOAD_TOKEN_HEADER, CALLER_TOKEN_HEADER, ...OVERRIDES]);
// W3C Trace Context: a restarted trace (traceparent missing or malformed) drops the old tracestate.
const NOT_FORWARDED_RESTARTED = new Set([...NOT_FORWARDED, "tracestate"]);
const NO_BODY: RequestBody = { kind: "none" };

export const prepareUpstream: Stage = {
  request(x) {
    const { request, url, trace, outcome } = x;
    // The URL's parts as recordOutcome read them (each read of a URL part is a call into the runtime).
    const host = outcome.host;
    const headers = new Headers(x.headers);
    stripHeaders(headers, trace.parentSpanId === undefined ? NOT_FORWARDED_RESTARTED : NOT_FORWARDED);
    // From the client's headers, not the copy: a name the client lists in Connection is gone from that.
    const clientIp = x.headers.get("cf-connecting-ip");
    if (clientIp) {
      const forwardedFor = headers.get("x-forwarded-for");
      headers.set("x-forwarded-for", forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp);
    }
    headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
    headers.set("x-forwarded-host", host);
    headers.set("x-request-id", x.requestId);
    headers.set("traceparent", formatTraceparent(trace));
    const body = request.body && bodyToForward(request);
    x.upstream = {
      method: request.method,
      host,
      path: outcome.path,
      search: url.search,
      headers,
      body: body ? { kind: "stream", stream: body } : NO_BODY,
    };
    return undefined;
  },
};

/**
 * A GET or HEAD body cannot go upstream: the Workers runtime's fetch() refuses to send one, which
 * would fail every try of a healthy endpoint and count against it. One declared empty (Content-Length:
 * 0) is dropped; any other (chunked ones too: their length is unknown until read) is the client's
 * mistake, said as such, rather than a body silently lost.
 */
function bodyToForward(request: Request): ReadableStream | null {
  const method = request.method;
  if (method !== "GET" && method !== "HEAD") return request.body;
  if (request.headers.get("content-length") === "0") return null;
  throw new MeshError("invalid_request", `a ${method} request cannot carry a body through the mesh (send it with POST, or without a body)`);
}
