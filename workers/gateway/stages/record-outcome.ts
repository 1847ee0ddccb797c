/**
 * Opens the request's outcome record (joining or starting its trace) and, once the response exists,
 * completes it and hands it to the sinks; their asynchronous work (reports) runs after the response
 * has gone, with `waitUntil`.
 */
import type { Exchange, Stage } from "../context.ts";
import { isSynthetic, syntheticResponse, type Reason } from "../errors.ts";
import { ATTEMPTS_HEADER, REASON_HEADER } from "../mesh-headers.ts";
import { upstreamTimeMs, type Outcome, type OutcomeSink } from "../outcome.ts";
import { joinTrace } from "../trace-context.ts";
import { traceSampleRatio } from "../tracing/config.ts";

export const recordOutcome = (sinks: readonly OutcomeSink[]): Stage => ({
  request(x) {
    const startedAt = Date.now();
    const request = x.request;
    const trace = joinTrace(x.headers.get("traceparent"), traceSampleRatio(x.env));
    // Parsed once here for every stage (prepareUpstream, redirect). workerd builds the URL from the
    // Host header and hands on some it cannot parse back ("[x", a port past 65535): the client's error.
    const url = parseUrl(request.url);
    x.trace = trace;
    x.outcome = {
      requestId: x.requestId,
      traceId: trace.traceId,
      spanId: trace.spanId,
      parentSpanId: trace.parentSpanId,
      traceFlags: trace.flags,
      startedAt,
      method: request.method,
      host: url?.host ?? "",
      path: url?.pathname ?? "",
      route: undefined,
      rule: undefined,
      backend: undefined,
      endpoint: undefined,
      attempts: 0,
      tries: [],
      status: 0,
      reason: undefined,
      latencyMs: 0,
      retryBudgetExhausted: false,
      faults: [],
    };
    if (url) {
      x.url = url;
      return undefined;
    }
    return syntheticResponse(400, "invalid_request", "the request's Host header does not make a valid URL", x.requestId);
  },
  response(x, response) {
    complete(x, response, sinks);
  },
});

function complete(x: Exchange, response: Response, sinks: readonly OutcomeSink[]): void {
  const outcome = x.outcome;
  const headers = response.headers;
  // Every answer carries the request id, proxied and synthetic alike.
  headers.set("x-request-id", outcome.requestId);
  // Like Envoy's x-envoy-attempt-count: lets a client see that retries happened.
  if (outcome.attempts > 0) headers.set(ATTEMPTS_HEADER, String(outcome.attempts));
  outcome.status = response.status;
  // Only this hop's own answers have a reason (an upstream's x-edgemesh-* were stripped in send.ts,
  // but a ResponseHeaderModifier may still set one).
  outcome.reason = isSynthetic(response) ? ((headers.get(REASON_HEADER) as Reason | null) ?? undefined) : undefined;
  outcome.latencyMs = Date.now() - outcome.startedAt;
  // Bytes sent upstream: a request the mesh answered before any try (401, 404, 429...) sent none,
  // whatever its Content-Length claims (workerd holds a forwarded body to its Content-Length).
  if (outcome.attempts > 0) {
    const requestBytes = Number(x.headers.get("content-length"));
    if (requestBytes > 0) outcome.requestBytes = requestBytes;
  }
  if (x.env.SERVER_TIMING === "on") headers.append("server-timing", serverTiming(outcome));
  const responseBytes = Number(headers.get("content-length"));
  if (responseBytes > 0) outcome.responseBytes = responseBytes;
  // Sinks are called once here; only those with asynchronous work hold the invocation open.
  for (const sink of sinks) {
    const pending = sink(outcome, x.env);
    if (pending) x.ctx.waitUntil(pending.catch((error) => console.error(JSON.stringify({ level: "error", message: "outcome sink failed", error: String(error) }))));
  }
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** The mesh's own time apart from the upstream's (the attempts'), in the Server-Timing syntax. */
function serverTiming(outcome: Outcome): string {
  const upstreamMs = upstreamTimeMs(outcome);
  return `edgemesh;dur=${Math.max(0, outcome.latencyMs - upstreamMs)};desc="mesh", upstream;dur=${upstreamMs}`;
}
