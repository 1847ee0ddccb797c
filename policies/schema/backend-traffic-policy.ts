/**
 * BackendTrafficPolicy (edgemesh.dev/v1alpha1): how the mesh calls a Backend, shaped after Envoy
 * Gateway's resource of the same name. Attached to a Backend (all calls to it) or to an HTTPRoute
 * (calls made by that route); the route-level field wins, and an HTTPRoute rule's own `timeouts` and
 * `retry` win over both. Defaults are Envoy's where Envoy has one.
 */
import { z } from "zod";
import { Duration, DurationWithin, durationToMs, HeaderName, Metadata, Percentage, PolicyTargetRef } from "./common.ts";
import { HealthCheck } from "./health-check.ts";
import { RateLimit } from "./rate-limit.ts";

export const RETRY_TRIGGERS = ["5xx", "gateway-error", "reset", "connect-failure", "retriable-status-codes"] as const;

const ConsistentHash = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("Header"), header: z.strictObject({ name: HeaderName }) }),
  z.strictObject({ type: z.literal("Cookie"), cookie: z.strictObject({ name: z.string().min(1).max(256) }) }),
  z.strictObject({ type: z.literal("SourceIP") }),
]);

export const LoadBalancer = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("RoundRobin") }),
  z.strictObject({ type: z.literal("Random") }),
  z.strictObject({ type: z.literal("LeastRequest") }),
  z.strictObject({
    type: z.literal("ConsistentHash"),
    consistentHash: ConsistentHash,
    /** Maglev lookup table size; must be prime. Envoy's default. */
    tableSize: z.int().min(251).max(5_000_011).default(65537).refine(isPrime, { error: "must be a prime number" }),
  }),
]);

export const Retry = z.strictObject({
  numRetries: z.int().min(0).max(10).default(2),
  retryOn: z
    .strictObject({
      triggers: z.array(z.enum(RETRY_TRIGGERS)).min(1).default(["connect-failure", "reset", "gateway-error"]),
      httpStatusCodes: z.array(z.int().min(100).max(599)).max(32).default([]),
    })
    .default({ triggers: ["connect-failure", "reset", "gateway-error"], httpStatusCodes: [] }),
  perRetry: z
    .strictObject({
      timeout: Duration.optional(),
      backOff: z
        .strictObject({ baseInterval: Duration.default("25ms"), maxInterval: Duration.optional() })
        .refine((backOff) => !backOff.maxInterval || durationToMs(backOff.maxInterval) >= durationToMs(backOff.baseInterval), {
          error: "maxInterval must not be shorter than baseInterval",
          path: ["maxInterval"],
        })
        .default({ baseInterval: "25ms" }),
    })
    .default({ backOff: { baseInterval: "25ms" } }),
  /** Non-idempotent methods (POST, PATCH) are retried only when this says so. */
  retryNonIdempotent: z.boolean().default(false),
  /** Request bodies up to this size are buffered so they can be sent again; larger ones are not retried. */
  bufferLimitBytes: z.int().min(0).max(16 * 1024 * 1024).default(64 * 1024),
});

/**
 * Linkerd's retry budget, per backend per isolate: over the last `ttl`, retries may add at most `ratio`
 * of the requests, plus `minRetriesPerSecond` so that a quiet backend can still be retried.
 */
export const RetryBudget = z.strictObject({
  ratio: z.number().min(0).max(10).default(0.2),
  minRetriesPerSecond: z.int().min(0).max(10_000).default(10),
  ttl: DurationWithin(1_000).default("10s"),
});

export const FaultInjection = z
  .strictObject({
    delay: z.strictObject({ fixedDelay: Duration, percentage: Percentage.default(100) }).optional(),
    abort: z.strictObject({ httpStatus: z.int().min(200).max(599), percentage: Percentage.default(100) }).optional(),
  })
  .refine((fault) => fault.delay || fault.abort, { error: "must set delay, abort or both" });

export const CircuitBreaker = z.strictObject({
  /** Requests in flight to the backend from one isolate; more fail fast with 503 (overflow). */
  maxParallelRequests: z.int().min(1).max(1_000_000).default(1024),
  /** Retries in flight to the backend from one isolate; more are not attempted. */
  maxParallelRetries: z.int().min(0).max(1_000_000).default(1024),
});

const BACKEND_ONLY = ["loadBalancer", "circuitBreaker", "retryBudget", "healthCheck"] as const;

export const BackendTrafficPolicy = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("BackendTrafficPolicy"),
  metadata: Metadata,
  spec: z
    .strictObject({
      targetRefs: z.array(PolicyTargetRef).min(1).max(16),
      loadBalancer: LoadBalancer.optional(),
      retry: Retry.optional(),
      retryBudget: RetryBudget.optional(),
      timeout: z.strictObject({ http: z.strictObject({ requestTimeout: Duration.optional() }) }).optional(),
      faultInjection: FaultInjection.optional(),
      circuitBreaker: CircuitBreaker.optional(),
      healthCheck: HealthCheck.optional(),
      rateLimit: RateLimit.optional(),
    })
    .superRefine((spec, ctx) => {
      if (!spec.targetRefs.some((ref) => ref.kind === "HTTPRoute")) return;
      for (const field of BACKEND_ONLY) {
        if (spec[field]) ctx.addIssue({ code: "custom", path: [field], message: "applies to a Backend; it cannot target an HTTPRoute" });
      }
    }),
});

function isPrime(n: number): boolean {
  if (n < 2 || n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export type BackendTrafficPolicy = z.infer<typeof BackendTrafficPolicy>;
export type LoadBalancer = z.infer<typeof LoadBalancer>;
export type Retry = z.infer<typeof Retry>;
export type FaultInjection = z.infer<typeof FaultInjection>;
export type CircuitBreaker = z.infer<typeof CircuitBreaker>;
export type RetryBudget = z.infer<typeof RetryBudget>;
