/**
 * Rate limiting, after the backend is chosen (a limit may belong to the route or to the backend):
 * 429 with Retry-After and the IETF RateLimit headers when a rule denies; the RateLimit headers on
 * every answer a limit applied to.
 */
import type { Exchange, Stage } from "../context.ts";
import { MeshError } from "../errors.ts";
import { checkRateLimits, rateLimitHeaders, type Checked, type Limiters } from "../ratelimit/index.ts";

export const rateLimit = (limiters: Limiters): Stage => ({
  request(x) {
    const rules = x.target.policy.rateLimits;
    if (!rules.length) return undefined;
    const checked = checkRateLimits(limiters, rules, x.request, x.env.RATE_LIMITER, x.ctx);
    // Synchronous while the isolate holds tokens: a global limit waits only for a lease it has to have.
    return checked instanceof Promise ? checked.then((result) => decide(x, result)) : decide(x, checked);
  },
  response(x, response) {
    const headers = x.rateLimitHeaders;
    if (headers) for (const name in headers) response.headers.set(name, headers[name]!);
  },
});

function decide(x: Exchange, { denied, applied }: { denied: Checked | undefined; applied: Checked[] }): undefined {
  const headers = rateLimitHeaders(applied);
  if (denied) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(denied.verdict.resetMs / 1000)));
    throw new MeshError("rate_limited", `rate limit "${denied.rule.name}" (${denied.rule.requests} per ${denied.rule.windowMs / 1000} s) exceeded`, { headers });
  }
  x.rateLimitHeaders = headers;
  return undefined;
}
