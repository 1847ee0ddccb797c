/**
 * Runs a request through its rate-limit rules. Limiters are kept per rule id across config versions,
 * so a reload does not refill every bucket; a changed limit takes effect on the next request.
 */
import type { Namespace } from "../../../common/protocol.ts";
import { GlobalLimiter } from "./global.ts";
import { LocalLimiter } from "./local.ts";
import type { RateLimitRule, Verdict } from "./rule.ts";

export type { RateLimitRule } from "./rule.ts";
export { compileRateLimits } from "./rule.ts";

/** Every rule's limiter in one isolate, by rule id (part of the IsolateState). */
export class Limiters {
  private readonly limiters = new Map<string, LocalLimiter | GlobalLimiter>();

  for(rule: RateLimitRule): LocalLimiter | GlobalLimiter {
    let limiter = this.limiters.get(rule.id);
    if (!limiter || (rule.scope === "global") !== limiter instanceof GlobalLimiter) {
      limiter = rule.scope === "global" ? new GlobalLimiter(rule) : new LocalLimiter(rule);
      this.limiters.set(rule.id, limiter);
    }
    limiter.rule = rule;
    return limiter;
  }

  /** Lease calls per global rule in this isolate (admin API, benchmark). */
  describe() {
    return Object.fromEntries([...this.limiters].filter(([, l]) => l instanceof GlobalLimiter).map(([id, l]) => [id, (l as GlobalLimiter).describe()]));
  }
}

export interface Checked {
  rule: RateLimitRule;
  verdict: Verdict;
}

/** The first rule that denies, or else every applicable rule's verdict. */
export async function checkRateLimits(
  limiters: Limiters,
  rules: readonly RateLimitRule[],
  request: Request,
  namespace: Namespace | undefined,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<{ denied: Checked | undefined; applied: Checked[] }> {
  const applied: Checked[] = [];
  for (const rule of rules) {
    const key = rule.keyOf(request);
    if (key === undefined) continue;
    const limiter = limiters.for(rule);
    const now = Date.now();
    let verdict: Verdict;
    if (limiter instanceof LocalLimiter) verdict = limiter.take(key, now);
    // Without the binding (a bare local setup) a global rule cannot be counted: it does not apply.
    else if (namespace) verdict = await limiter.take(key, namespace, waitUntil, now);
    else continue;
    const checked = { rule, verdict };
    if (!verdict.allowed) return { denied: checked, applied: [...applied, checked] };
    applied.push(checked);
  }
  return { denied: undefined, applied };
}

/** The IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders(applied: Checked[]): Record<string, string> {
  if (!applied.length) return {};
  const policy = applied.length === 1 ? applied[0]!.rule.policyItem : applied.map(({ rule }) => rule.policyItem).join(", ");
  const tightest = applied.reduce((a, b) => (b.verdict.remaining < a.verdict.remaining ? b : a));
  const seconds = Math.max(1, Math.ceil(tightest.verdict.resetMs / 1000));
  return { "ratelimit-policy": policy, ratelimit: `"${tightest.rule.name}";r=${tightest.verdict.remaining};t=${seconds}` };
}
