/**
 * The outcome record as OTLP spans (OTLP/HTTP JSON: hex ids, nanosecond times as strings): one server
 * span for the hop, one client span per attempt, named and attributed per the stable OpenTelemetry
 * HTTP semantic conventions, plus the mesh's own attributes under `edgemesh.*`.
 */
import type { Outcome } from "../outcome.ts";

export interface OtlpAttribute {
  key: string;
  value: { stringValue: string } | { intValue: string } | { boolValue: boolean };
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 2 | 3;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  status: { code: 0 | 1 | 2; message?: string };
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

const nanos = (ms: number) => `${Math.round(ms)}000000`;
const str = (key: string, value: string | undefined): OtlpAttribute[] => (value === undefined || value === "" ? [] : [{ key, value: { stringValue: value } }]);
const int = (key: string, value: number): OtlpAttribute => ({ key, value: { intValue: String(value) } });

export function spansOf(outcome: Outcome): OtlpSpan[] {
  const source = outcome.source && "id" in outcome.source ? outcome.source.id : undefined;
  const serverError = outcome.status >= 500 || outcome.status === 0;
  const [host, port] = splitHost(outcome.host);
  const server: OtlpSpan = {
    traceId: outcome.traceId,
    spanId: outcome.spanId,
    ...(outcome.parentSpanId && { parentSpanId: outcome.parentSpanId }),
    // {method} alone: the mesh has no low-cardinality route template to add (http.route).
    name: outcome.method,
    kind: SPAN_KIND_SERVER,
    startTimeUnixNano: nanos(outcome.startedAt),
    endTimeUnixNano: nanos(outcome.startedAt + outcome.latencyMs),
    attributes: [
      { key: "http.request.method", value: { stringValue: outcome.method } },
      { key: "url.path", value: { stringValue: bounded(outcome.path) } },
      ...str("server.address", host),
      ...(port ? [int("server.port", Number(port))] : []),
      int("http.response.status_code", outcome.status),
      ...str("error.type", serverError ? (outcome.reason ?? String(outcome.status)) : undefined),
      ...str("edgemesh.route", outcome.route),
      ...str("edgemesh.backend", outcome.backend),
      ...str("edgemesh.endpoint", outcome.endpoint),
      ...str("edgemesh.reason", outcome.reason),
      ...str("edgemesh.source.principal", source),
      ...str("edgemesh.request_id", outcome.requestId),
      ...(outcome.attempts > 1 ? [int("edgemesh.attempts", outcome.attempts)] : []),
    ],
    status: serverError ? { code: STATUS_ERROR, ...(outcome.reason && { message: outcome.reason }) } : { code: STATUS_UNSET },
  };
  const spans = [server];
  outcome.tries.forEach((attempt, index) => {
    const failed = attempt.status >= 400 || attempt.reason !== undefined;
    const [endpointHost, endpointPort] = splitHost(attempt.endpoint?.replace(/^[a-z]+:\/\//, "") ?? "");
    spans.push({
      traceId: outcome.traceId,
      spanId: attempt.spanId,
      parentSpanId: outcome.spanId,
      name: outcome.method,
      kind: SPAN_KIND_CLIENT,
      startTimeUnixNano: nanos(attempt.startedAt),
      endTimeUnixNano: nanos(attempt.startedAt + attempt.latencyMs),
      attributes: [
        { key: "http.request.method", value: { stringValue: outcome.method } },
        ...str("server.address", endpointHost),
        ...(endpointPort ? [int("server.port", Number(endpointPort))] : []),
        int("http.response.status_code", attempt.status),
        ...(index > 0 ? [int("http.request.resend_count", index)] : []),
        ...str("error.type", failed ? (attempt.reason ?? String(attempt.status)) : undefined),
        ...str("edgemesh.backend", outcome.backend),
        ...str("edgemesh.endpoint", attempt.endpoint),
        { key: "edgemesh.attempt.result", value: { stringValue: attempt.result } },
      ],
      status: failed ? { code: STATUS_ERROR } : { code: STATUS_UNSET },
    });
  });
  return spans;
}

/** "host:port" → [host, port]; IPv6 "[::1]:80" too; "worker:RATINGS" names no port. */
function splitHost(hostPort: string): [string, string | undefined] {
  const match = /^(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/.exec(hostPort);
  return match ? [match[1]!, match[2]] : [hostPort, undefined];
}

/**
 * A span's client-chosen text, cut to MAX_ATTRIBUTE_LENGTH (OpenTelemetry's attribute value length
 * limit): a queued span holds it until export, and a path may be kilobytes long. Copied, not sliced:
 * V8's slice of a long string keeps the whole of it alive.
 */
export const MAX_ATTRIBUTE_LENGTH = 1_024;
const bounded = (text: string) => (text.length > MAX_ATTRIBUTE_LENGTH ? copyOf(text.slice(0, MAX_ATTRIBUTE_LENGTH)) : text);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const copyOf = (text: string) => decoder.decode(encoder.encode(text));
