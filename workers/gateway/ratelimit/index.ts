/**
 * Runs a request through its rate-limit rules. Limiters are kept per rule id across config versions,
 * so a reload does not refill every bucket; a changed limit takes effect on the next request.
 */
import type { Namespace } from "../../../common/protocol.ts";
import { GlobalLimiter } from "./global.ts";
import { LocalLimiter } from "./local.ts";
import type { RateLimitRule, Verdict, Waiter } from "./rule.ts";

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

export interface Checks {
  denied: Checked | undefined;
  applied: Checked[];
}

/**
 * The first rule that denies, or else every applicable rule's verdict. Synchronous unless a global
 * rule has to wait for a lease; the rules after it are checked once it has its verdict.
 */
export function checkRateLimits(
  limiters: Limiters,
  rules: readonly RateLimitRule[],
  request: Request,
  namespace: Namespace | undefined,
  ctx: Waiter,
  from = 0,
  applied: Checked[] = [],
): Checks | Promise<Checks> {
  for (let i = from; i < rules.length; i++) {
    const rule = rules[i]!;
    const key = rule.keyOf(request);
    if (key === undefined) continue;
    const limiter = limiters.for(rule);
    const now = Date.now();
    let verdict: Verdict | Promise<Verdict>;
    if (limiter instanceof LocalLimiter) verdict = limiter.take(key, now);
    // Without the binding (a bare local setup) a global rule cannot be counted: it does not apply.
    else if (namespace) verdict = limiter.take(key, namespace, ctx, now);
    else continue;
    if (verdict instanceof Promise) {
      return verdict.then((settled) => record(rule, settled, applied) ?? checkRateLimits(limiters, rules, request, namespace, ctx, i + 1, applied));
    }
    const denied = record(rule, verdict, applied);
    if (denied) return denied;
  }
  return { denied: undefined, applied };
}

/** Adds a verdict to those applied; the checks' end if it denies. */
function record(rule: RateLimitRule, verdict: Verdict, applied: Checked[]): Checks | undefined {
  const checked = { rule, verdict };
  applied.push(checked);
  return verdict.allowed ? undefined : { denied: checked, applied };
}

/** The IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders(applied: Checked[]): Record<string, string> {
  if (!applied.length) return {};
  const policy = applied.length === 1 ? applied[0]!.rule.policyItem : applied.map(({ rule }) => rule.policyItem).join(", ");
  const tightest = applied.reduce((a, b) => (b.verdict.remaining < a.verdict.remaining ? b : a));
  const seconds = Math.max(1, Math.ceil(tightest.verdict.resetMs / 1000));
  return { "ratelimit-policy": policy, ratelimit: `"${tightest.rule.name}";r=${tightest.verdict.remaining};t=${seconds}` };
}
