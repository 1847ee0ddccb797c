/**
 * Opens the request's outcome record (joining or starting its trace) and, once the response exists,
 * completes it and hands it to the sinks; their asynchronous work (reports) runs after the response
 * has gone, with `waitUntil`.
 */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { isSynthetic, syntheticResponse, type Reason } from "../errors.ts";
import { ATTEMPTS_HEADER, REASON_HEADER } from "../mesh-headers.ts";
import type { Outcome, OutcomeSink } from "../outcome.ts";
import { joinTrace } from "../trace-context.ts";

export const recordOutcome = (sinks: readonly OutcomeSink[]) =>
  createMiddleware<MeshEnv>(async function recordOutcome(c, next) {
    const startedAt = Date.now();
    const trace = joinTrace(c.req.raw.headers.get("traceparent"));
    // Parsed once here for every stage (prepareUpstream, redirect). workerd builds the URL from the
    // Host header and hands on some it cannot parse back ("[x", a port past 65535): the client's error.
    const url = parseUrl(c.req.url);
    const outcome: Outcome = {
      requestId: c.get("requestId"),
      traceId: trace.traceId,
      spanId: trace.spanId,
      parentSpanId: trace.parentSpanId,
      startedAt,
      method: c.req.method,
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
    c.set("outcome", outcome);
    c.set("trace", trace);
    if (url) {
      c.set("url", url);
      await next();
    } else {
      c.res = syntheticResponse(400, "invalid_request", "the request's Host header does not make a valid URL", outcome.requestId);
    }
    // Every answer carries the request id, proxied and synthetic alike.
    c.res.headers.set("x-request-id", outcome.requestId);
    // Like Envoy's x-envoy-attempt-count: lets a client see that retries happened.
    if (outcome.attempts > 0) c.res.headers.set(ATTEMPTS_HEADER, String(outcome.attempts));
    outcome.status = c.res.status;
    // Only this hop's own answers have a reason (an upstream's x-edgemesh-* were stripped in send.ts,
    // but a ResponseHeaderModifier may still set one).
    outcome.reason = isSynthetic(c.res) ? ((c.res.headers.get(REASON_HEADER) as Reason | null) ?? undefined) : undefined;
    outcome.latencyMs = Date.now() - startedAt;
    // Sinks are called once here; only those with asynchronous work hold the invocation open.
    for (const sink of sinks) {
      const pending = sink(outcome, c.env);
      if (pending) c.executionCtx.waitUntil(pending.catch((error) => console.error(JSON.stringify({ level: "error", message: "outcome sink failed", error: String(error) }))));
    }
  });

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
