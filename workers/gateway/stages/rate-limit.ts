/**
 * Rate limiting, after the backend is chosen (a limit may belong to the route or to the backend):
 * 429 with Retry-After and the IETF RateLimit headers when a rule denies; the RateLimit headers on
 * every answer a limit applied to.
 */
import { createMiddleware } from "hono/factory";
import type { MeshEnv } from "../context.ts";
import { MeshError } from "../errors.ts";
import { checkRateLimits, rateLimitHeaders, type Limiters } from "../ratelimit/index.ts";

export const rateLimit = (limiters: Limiters) =>
  createMiddleware<MeshEnv>(async function rateLimit(c, next) {
    const rules = c.get("target").policy.rateLimits;
    if (!rules.length) return next();
    const { denied, applied } = await checkRateLimits(limiters, rules, c.req.raw, c.env.RATE_LIMITER, (p) => c.executionCtx.waitUntil(p));
    const headers = rateLimitHeaders(applied);
    if (denied) {
      headers["retry-after"] = String(Math.max(1, Math.ceil(denied.verdict.resetMs / 1000)));
      throw new MeshError("rate_limited", `rate limit "${denied.rule.name}" (${denied.rule.requests} per ${denied.rule.windowMs / 1000} s) exceeded`, { headers });
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  });
