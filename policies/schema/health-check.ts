/**
 * Passive health checking (outlier detection), in the vocabulary of Envoy and Envoy Gateway's
 * `healthCheck.passive`, with Envoy's defaults. An endpoint is ejected on consecutive 5xx or gateway
 * errors, or on a failure percentage over an interval; it stays out for baseEjectionTime × the number
 * of times it has been ejected (capped by maxEjectionTime), then is probed (half-open) before it is
 * trusted again. maxEjectionPercent keeps enough endpoints in service whatever happens.
 */
import { z } from "zod";
import { Duration, DurationWithin, Percentage } from "./common.ts";

export const PassiveHealthCheck = z.strictObject({
  /** Consecutive 5xx answers (or local failures: reset, timeout) that eject an endpoint; 0 disables. */
  consecutive5XxErrors: z.int().min(0).max(1000).default(5),
  /** Consecutive 502, 503, 504 or local failures that eject an endpoint; 0 disables. */
  consecutiveGatewayErrors: z.int().min(0).max(1000).default(0),
  /** How often failure percentages are evaluated, and over what span. */
  interval: DurationWithin(1_000).default("10s"),
  failurePercentage: z
    .strictObject({
      /** Failure percentage at or above which an endpoint is ejected. */
      threshold: Percentage.default(85),
      /** Requests an endpoint must have seen in the interval before its percentage counts. */
      requestVolume: z.int().min(1).max(1_000_000).default(50),
    })
    .optional(),
  baseEjectionTime: DurationWithin(1).default("30s"),
  maxEjectionTime: Duration.default("300s"),
  /** At most this share of a backend's endpoints is ejected at once; at least one may always be. */
  maxEjectionPercent: Percentage.default(10),
  /** Successful probes that close the breaker of a half-open endpoint; one failure reopens it. */
  halfOpenSuccesses: z.int().min(1).max(100).default(3),
});

export const HealthCheck = z.strictObject({ passive: PassiveHealthCheck });

export type PassiveHealthCheck = z.infer<typeof PassiveHealthCheck>;
