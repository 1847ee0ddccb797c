/** Local rate limit: a token bucket per key in this isolate, refilled continuously at requests/window. */
import { LruMap } from "../../../common/lru.ts";
import type { RateLimitRule, Verdict } from "./rule.ts";

const MAX_KEYS = 10_000;

export class LocalLimiter {
  private readonly buckets = new LruMap<string, { tokens: number; updatedAt: number }>(MAX_KEYS);

  constructor(public rule: RateLimitRule) {}

  take(key: string, now: number): Verdict {
    const { requests, windowMs } = this.rule;
    const perMs = requests / windowMs;
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { tokens: requests, updatedAt: now }));
    bucket.tokens = Math.min(requests, bucket.tokens + (now - bucket.updatedAt) * perMs);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), resetMs: Math.ceil((requests - bucket.tokens) / perMs) };
    }
    return { allowed: false, remaining: 0, resetMs: Math.ceil((1 - bucket.tokens) / perMs) };
  }
}
