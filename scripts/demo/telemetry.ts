/**
 * OpenTelemetry for the demo's Node origins, with the SDK's own packages (the tracer provider, the
 * batch span processor, the OTLP/HTTP JSON exporter, the W3C propagator): when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set, each origin records a server span per request, a child of the
 * caller's span (the gateway's client span, from traceparent), and a client span per call it makes,
 * whose id it sends on in traceparent. Each origin has a provider of its own, so its spans carry its
 * own service.name ("details-a", "reviews-v3"). Spans are made by hand around node:http rather than
 * by @opentelemetry/instrumentation-http, which cannot patch node:http as imported by ES modules.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { IncomingMessage, ServerResponse } from "node:http";

const providers: BasicTracerProvider[] = [];
let propagatorSet = false;

/** This origin's tracer, or undefined when no collector is configured (then nothing is recorded). */
export function tracerFor(service: string): Tracer | undefined {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  if (!propagatorSet) {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    propagatorSet = true;
  }
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": service, "service.namespace": "bookinfo" }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  providers.push(provider);
  return provider.getTracer("edgemesh-demo");
}

/** Sends what is queued; on stop. */
export async function shutdownTelemetry(): Promise<void> {
  await Promise.allSettled(providers.map((provider) => provider.shutdown()));
}

const spans = new WeakMap<IncomingMessage, { tracer: Tracer; context: Context }>();

/** Opens the request's server span (ended when the response is); its context is the parent of the calls it makes. */
export function serverSpan(tracer: Tracer | undefined, request: IncomingMessage, response: ServerResponse, port: number): void {
  if (!tracer) return;
  const parent = propagation.extract(context.active(), request.headers);
  const url = new URL(request.url ?? "/", "http://localhost");
  const span = tracer.startSpan(
    request.method ?? "GET",
    {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": request.method ?? "GET", "url.path": url.pathname, "server.address": "127.0.0.1", "server.port": port, "url.scheme": "http" },
    },
    parent,
  );
  spans.set(request, { tracer, context: trace.setSpan(parent, span) });
  response.once("finish", () => endHttpSpan(span, response.statusCode, true));
  response.once("close", () => span.isRecording() && endHttpSpan(span, response.statusCode, true));
}

/**
 * A client span for a call made while handling `incoming`, and the headers to send it with: the
 * propagated ones, with traceparent naming this span. Without tracing, the headers as they are.
 */
export function clientSpan(incoming: IncomingMessage, name: string, headers: Record<string, string>, attributes: Record<string, string | number>): { span: Span | undefined; headers: Record<string, string> } {
  const server = spans.get(incoming);
  if (!server) return { span: undefined, headers };
  const span = server.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, server.context);
  const carrier = { ...headers };
  delete carrier.traceparent;
  delete carrier.tracestate;
  propagation.inject(trace.setSpan(server.context, span), carrier);
  return { span, headers: carrier };
}

/** Ends an HTTP span per the semantic conventions: a server's 5xx, or a client's 4xx and 5xx, is an error. */
export function endHttpSpan(span: Span | undefined, status: number | undefined, server = false, error?: string): void {
  if (!span?.isRecording()) return;
  if (status !== undefined) span.setAttribute("http.response.status_code", status);
  if (error !== undefined || status === undefined || status >= (server ? 500 : 400)) {
    span.setAttribute("error.type", error ?? String(status ?? "error"));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
