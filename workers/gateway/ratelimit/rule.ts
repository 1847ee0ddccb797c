/** A rate-limit rule compiled for the request path, and the verdict a limiter gives. */
import type { RateLimit } from "../../../policies/schema/index.ts";
import { windowMsOf } from "../../../policies/schema/index.ts";
import { compileSelectors, type KeyOf } from "./selectors.ts";

export interface RateLimitRule {
  /** Stable across config versions ("default/limits/HTTPRoute/ratings/global/per-ip"), so counters survive a reload. */
  readonly id: string;
  /** For the RateLimit-Policy header. */
  readonly name: string;
  readonly scope: "local" | "global";
  readonly requests: number;
  readonly windowMs: number;
  readonly shards: number;
  readonly keyOf: KeyOf;
  /** This rule's item of the RateLimit-Policy field, made once. */
  readonly policyItem: string;
}

/** Where work that outlives the request goes (the request's ExecutionContext). */
export type Waiter = Pick<ExecutionContext, "waitUntil">;

export interface Verdict {
  allowed: boolean;
  remaining: number;
  /** Until the quota refills (global: the window ends; local: the next token). */
  resetMs: number;
}

export function compileRateLimits(policyId: string, rateLimit: RateLimit | undefined): RateLimitRule[] {
  if (!rateLimit) return [];
  const rules: RateLimitRule[] = [];
  for (const scope of ["local", "global"] as const) {
    const section = rateLimit[scope];
    section?.rules.forEach((rule, index) => {
      const name = rule.name ?? `rule-${index}`;
      const windowMs = windowMsOf(rule.limit);
      rules.push({
        id: `${policyId}/${scope}/${name}`,
        name,
        scope,
        requests: rule.limit.requests,
        windowMs,
        policyItem: `"${name}";q=${rule.limit.requests};w=${Math.ceil(windowMs / 1000)}`,
        shards: scope === "global" ? rateLimit.global!.shards : 1,
        keyOf: compileSelectors(rule.clientSelectors),
      });
    });
  }
  return rules;
}
