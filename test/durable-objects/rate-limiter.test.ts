/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * The RateLimiter's counts per key, window length and window: a rule whose window length changes
 * (Second to Minute, 90 s to 120 s) counts in a counter of its own instead of comparing window numbers
 * of two lengths (which left every lease at 0, and every request 429, for good), and isolates of the
 * old and the new length leasing in turn during the rollout are each held to their limit.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RateLimiterApi } from "../../common/protocol.ts";

const shard = (name: string) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name)) as unknown as RateLimiterApi & DurableObjectStub;
const windowOf = (windowMs: number) => Math.floor(Date.now() / windowMs);

describe("RateLimiter windows", () => {
  it("a key counted per second, then per minute (the rule changed), gets tokens in its new window, and back again", async () => {
    const limiter = shard("window-length");
    const perSecond = { key: "3:ann", limit: 10, want: 4, windowMs: 1_000, window: 1_800_000_000 };
    expect((await limiter.lease(perSecond)).granted).toBe(4);
    // Per-second window numbers (~1.8e9) are far above per-minute ones (~3e7).
    const minute = await limiter.lease({ ...perSecond, limit: 100, windowMs: 60_000, window: 30_000_000 });
    expect(minute.granted).toBe(4);
    expect(minute.remaining).toBe(96);
    // And the per-second count goes on where it was: 6 left, half of them near the end.
    expect((await limiter.lease(perSecond)).granted).toBe(3);
  });

  it("counts each window length apart while a changed rule rolls out: isolates of both lengths, leasing in turn, are held to each limit", async () => {
    const limiter = shard("rollout");
    const [second, minute] = [{ windowMs: 1_000, window: 1_800_000_000 }, { windowMs: 60_000, window: 30_000_000 }];
    let granted = 0;
    for (let i = 0; i < 50; i++) {
      for (const length of [second, minute]) granted += (await limiter.lease({ key: "3:dan", want: 1, limit: 10, ...length })).granted;
    }
    // Each length's limit in its window, and no more.
    expect(granted).toBe(20);
  });

  it("still refuses a lease for a window of the same length that is over, and never grants past the limit", async () => {
    const limiter = shard("same-length");
    const now = windowOf(60_000);
    const request = { key: "3:bob", limit: 20, want: 4, windowMs: 60_000 };
    expect((await limiter.lease({ ...request, window: now })).granted).toBe(4);
    expect((await limiter.lease({ ...request, window: now - 1 })).granted).toBe(0);
    let total = 4;
    for (let i = 0; i < 20; i++) total += (await limiter.lease({ ...request, window: now })).granted;
    expect(total).toBe(20);
  });

  it("goes on with a count the previous deploy kept under the key alone, for the window under way, and not for another", async () => {
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName("old-rows"));
    const window = 30_000_000;
    // As the previous deploy stored it: the key alone, no window length; 5 of 5 granted this window.
    await runInDurableObject(stub, (_object, state) =>
      void state.storage.sql.exec("INSERT INTO counters (key, window, granted, expires_at) VALUES ('3:cat', ?, 5, ?)", window, (window + 1) * 60_000),
    );
    await runInDurableObject(stub, (_object, state) => state.abort("restart")).catch(() => undefined);
    const again = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName("old-rows")) as unknown as RateLimiterApi;
    expect((await again.lease({ key: "3:cat", limit: 5, want: 1, windowMs: 60_000, window })).granted).toBe(0);
    // The next window, or another length, counts afresh.
    expect((await again.lease({ key: "3:cat", limit: 5, want: 1, windowMs: 60_000, window: window + 1 })).granted).toBe(1);
    expect((await again.lease({ key: "3:cat", limit: 5, want: 1, windowMs: 1_000, window: 1_800_000_000 })).granted).toBe(1);
  });
});
