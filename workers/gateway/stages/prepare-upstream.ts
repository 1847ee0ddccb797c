/**
 * Proxy hygiene: starts the upstream request from the client's, minus hop-by-hop headers, the mesh's
 * own x-edgemesh-* headers and Expect, with x-forwarded-for / -proto / -host, the request id, and a
 * traceparent naming the gateway's span.
 */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { stripHopByHop } from "../hop-by-hop.ts";
import { stripMeshHeaders } from "../mesh-headers.ts";
import { formatTraceparent } from "../trace-context.ts";

export const prepareUpstream = () =>
  createMiddleware<MeshEnv>(async function prepareUpstream(c, next) {
    const request = c.req.raw;
    const url = c.get("url");
    const trace = c.get("trace");
    const headers = new Headers(request.headers);
    stripHopByHop(headers);
    stripMeshHeaders(headers);
    // Expect: 100-continue is between the client and this hop. Forwarded, the upstream would answer
    // 100 Continue, which fetch() hands back as if it were the response (Envoy strips it too).
    headers.delete("expect");
    const clientIp = headers.get("cf-connecting-ip");
    if (clientIp) {
      const forwardedFor = headers.get("x-forwarded-for");
      headers.set("x-forwarded-for", forwardedFor ? `${forwardedFor}, ${clientIp}` : clientIp);
    }
    headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
    headers.set("x-forwarded-host", url.host);
    headers.set("x-request-id", c.get("requestId"));
    headers.set("traceparent", formatTraceparent(trace));
    // W3C Trace Context: a restarted trace (traceparent missing or malformed) drops the old tracestate.
    if (trace.parentSpanId === undefined) headers.delete("tracestate");
    c.set("upstream", {
      method: request.method,
      host: url.host,
      path: url.pathname,
      search: url.search,
      headers,
      body: request.body ? { kind: "stream", stream: request.body } : { kind: "none" },
    });
    await next();
  });
