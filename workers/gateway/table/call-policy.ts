/**
 * The policy for one call from a route rule to one backend, resolved once at compile time from three
 * layers, most specific last: BackendTrafficPolicy on the Backend, BackendTrafficPolicy on the
 * HTTPRoute (each field replaces the Backend's), then the rule's own Gateway API `timeouts` and `retry`.
 */
import type { BackendTrafficPolicy, HTTPRouteRule } from "../../../policies/schema/index.ts";
import { durationToMs as parseDuration, RETRY_TRIGGERS, Retry } from "../../../policies/schema/index.ts";
import { compileRateLimits, type RateLimitRule } from "../ratelimit/index.ts";

export type RetryTrigger = (typeof RETRY_TRIGGERS)[number];

export interface RetryPolicy {
  readonly numRetries: number;
  readonly triggers: ReadonlySet<RetryTrigger>;
  readonly statusCodes: ReadonlySet<number>;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retryNonIdempotent: boolean;
  readonly bufferLimitBytes: number;
}

export interface FaultPolicy {
  readonly delay?: { readonly ms: number; readonly percentage: number };
  readonly abort?: { readonly status: number; readonly percentage: number };
}

export interface CallPolicy {
  /** Whole request, retries and backoff included. */
  readonly requestTimeoutMs: number;
  /** One attempt; undefined leaves each attempt bounded only by the request timeout. */
  readonly perTryTimeoutMs: number | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly fault: FaultPolicy | undefined;
  readonly rateLimits: readonly RateLimitRule[];
}

/** Envoy's default route timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

type Spec = BackendTrafficPolicy["spec"];

/** A rule's retry with no policy retry under it: the schema's defaults, parsed once. */
let defaultRetry: Retry | undefined;

/** Durations repeat across thousands of rules ("5s", "25ms"): parse each text once. */
const durations = new Map<string, number>();
function durationToMs(duration: string): number {
  let ms = durations.get(duration);
  if (ms === undefined) {
    if (durations.size >= 1024) durations.clear();
    durations.set(duration, (ms = parseDuration(duration)));
  }
  return ms;
}

/** A policy's spec as attached to one target, with the id of its counters ("ns/policy/Kind/target"). */
export interface NamedSpec {
  id: string;
  spec: Spec;
}

export function resolveCallPolicy(backendPolicy: NamedSpec | undefined, routePolicy: NamedSpec | undefined, rule: HTTPRouteRule): CallPolicy {
  const pick = <K extends keyof Spec>(field: K): Spec[K] | undefined => routePolicy?.spec[field] ?? backendPolicy?.spec[field];
  const rateLimitOwner = routePolicy?.spec.rateLimit ? routePolicy : backendPolicy;
  const timeout = pick("timeout");
  let retry = pick("retry");
  if (rule.retry) {
    const base = retry ?? (defaultRetry ??= Retry.parse({}));
    const codes = rule.retry.codes;
    retry = {
      ...base,
      numRetries: rule.retry.attempts ?? base.numRetries,
      // GEP-1731: the codes are exactly the statuses retried; they replace the base policy's status
      // triggers (5xx, gateway-error, its own codes). A failure without an answer (refused or reset
      // connection, per-try timeout) is still retried, as the GEP asks and Envoy Gateway does.
      retryOn: codes ? { triggers: ["connect-failure", "reset", "retriable-status-codes"], httpStatusCodes: codes } : base.retryOn,
      // The rule's backoff replaces the base interval; a policy cap below it would undercut the rule.
      perRetry: rule.retry.backoff
        ? { ...base.perRetry, backOff: { baseInterval: rule.retry.backoff, maxInterval: capAbove(base.perRetry.backOff.maxInterval, rule.retry.backoff) } }
        : base.perRetry,
    };
  }
  const requestTimeout = rule.timeouts?.request ?? timeout?.http.requestTimeout;
  const perTryTimeout = rule.timeouts?.backendRequest ?? retry?.perRetry.timeout;
  const fault = pick("faultInjection");
  return {
    // "0s" means no timeout in the Gateway API; the platform's own limits still apply.
    requestTimeoutMs: requestTimeout === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : durationToMs(requestTimeout) || Infinity,
    perTryTimeoutMs: perTryTimeout === undefined ? undefined : durationToMs(perTryTimeout) || undefined,
    retry: retry && retry.numRetries > 0 ? compileRetry(retry) : undefined,
    fault: fault && {
      ...(fault.delay && { delay: { ms: durationToMs(fault.delay.fixedDelay), percentage: fault.delay.percentage } }),
      ...(fault.abort && { abort: { status: fault.abort.httpStatus, percentage: fault.abort.percentage } }),
    },
    rateLimits: rateLimitOwner ? compileRateLimits(rateLimitOwner.id, rateLimitOwner.spec.rateLimit) : [],
  };
}

const capAbove = (cap: string | undefined, base: string) => (cap !== undefined && durationToMs(cap) >= durationToMs(base) ? cap : undefined);

function compileRetry(retry: Retry): RetryPolicy {
  const baseIntervalMs = durationToMs(retry.perRetry.backOff.baseInterval);
  const maxInterval = retry.perRetry.backOff.maxInterval;
  return {
    numRetries: retry.numRetries,
    triggers: new Set(retry.retryOn.triggers),
    statusCodes: new Set(retry.retryOn.httpStatusCodes),
    baseIntervalMs,
    // Envoy's default cap: ten times the base interval.
    maxIntervalMs: maxInterval === undefined ? baseIntervalMs * 10 : durationToMs(maxInterval),
    retryNonIdempotent: retry.retryNonIdempotent,
    bufferLimitBytes: retry.bufferLimitBytes,
  };
}
