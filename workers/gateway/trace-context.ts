/**
 * W3C Trace Context (traceparent): the gateway joins the caller's trace, or starts one, and sends its
 * own span id upstream as the parent. A malformed traceparent is replaced, as the spec requires, and
 * a trace started here (none joined) forwards no tracestate: the old vendor state belongs to a trace
 * the upstream will not see (prepare-upstream.ts).
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

export interface TraceContext {
  traceId: string;
  /** The caller's span, if it sent a valid traceparent; undefined when the trace starts here. */
  parentSpanId: string | undefined;
  /** The gateway's span for this request. */
  spanId: string;
  flags: string;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

function hexOf(bytes: Uint8Array, from: number, to: number): string {
  let hex = "";
  for (let i = from; i < to; i++) hex += HEX[bytes[i]!];
  return hex;
}

export function parseTraceparent(header: string | null): { traceId: string; parentSpanId: string; flags: string } | undefined {
  if (!header || header.length > 512) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, parentSpanId, flags, rest] = match;
  // Version 00 has exactly four fields; a higher version may add more; "ff" is forbidden.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, parentSpanId: parentSpanId!, flags: flags! };
}

/** Filled anew for each request and read at once: no request's ids outlive the call that drew them. */
const random = new Uint8Array(24);

/**
 * Joins the caller's trace (its sampled flag decides, as OpenTelemetry's parent-based sampler does)
 * or starts one, sampled with probability `ratio` (head sampling).
 */
export function joinTrace(header: string | null, ratio = 1): TraceContext {
  const incoming = parseTraceparent(header);
  // One draw of random bytes for both ids (a joined trace keeps its trace id; the draw costs the same).
  crypto.getRandomValues(random);
  return {
    traceId: incoming?.traceId ?? hexOf(random, 8, 24),
    parentSpanId: incoming?.parentSpanId,
    spanId: hexOf(random, 0, 8),
    flags: incoming?.flags ?? (ratio >= 1 || Math.random() < ratio ? "01" : "00"),
  };
}

const spanBytes = new Uint8Array(8);

/** A fresh span id (a client span per attempt). */
export function newSpanId(): string {
  crypto.getRandomValues(spanBytes);
  return hexOf(spanBytes, 0, 8);
}

/** Whether the trace's sampled flag is set. */
export const isSampled = (flags: string) => (parseInt(flags, 16) & 1) === 1;

export const formatTraceparent = (trace: TraceContext) => `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
