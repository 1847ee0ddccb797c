/**
 * The global limiter's fallback while a RateLimiter shard is away: its keys count locally, up to the
 * rule's limit per key and window in this isolate, and other shards' keys keep asking theirs. The
 * shard here is a stand-in that fails or grants on command (the whole path runs in workerd in
 * test/control-plane/rate-limits.test.ts and resilience.test.ts).
 */
import { describe, expect, it } from "vitest";
import type { Lease, LeaseRequest, Namespace } from "../../common/protocol.ts";
import { GlobalLimiter } from "../../workers/gateway/ratelimit/global.ts";
import { fnv1a } from "../../workers/gateway/lb/hash.ts";
import type { RateLimitRule } from "../../workers/gateway/ratelimit/rule.ts";

const rule = (shards: number): RateLimitRule => ({ id: "r", name: "r", scope: "global", requests: 10, windowMs: 60_000, shards, keyOf: () => "k", policyItem: "" });

/** Shards by name ("r#0"...): `down` ones throw, the others grant nothing (the window is spent everywhere). */
function shards(down: Set<string>) {
  const calls: string[] = [];
  const namespace = {
    idFromName: (name: string) => name,
    get: (name: string) => ({
      lease: async (request: LeaseRequest): Promise<Lease> => {
        calls.push(name);
        if (down.has(name)) throw new Error("shard away");
        return { granted: 0, remaining: 0, resetAt: (request.window + 1) * request.windowMs };
      },
    }),
  } as unknown as Namespace;
  return { namespace, calls };
}

const ctx = { waitUntil: (promise: Promise<unknown>) => void promise.catch(() => undefined) };
const allowedOf = async (limiter: GlobalLimiter, key: string, namespace: Namespace, times: number, now: number) => {
  let allowed = 0;
  for (let i = 0; i < times; i++) if ((await limiter.take(key, namespace, ctx, now)).allowed) allowed++;
  return allowed;
};

describe("a global rule whose shard is away", () => {
  it("counts that shard's keys locally, at most the limit per key and window, and asks it once", async () => {
    const { namespace, calls } = shards(new Set(["r#0"]));
    const limiter = new GlobalLimiter(rule(1));
    const now = 1_800_000_000_000;
    expect(await allowedOf(limiter, "a", namespace, 1_000, now)).toBe(10);
    expect(await allowedOf(limiter, "b", namespace, 1_000, now)).toBe(10);
    expect(calls).toEqual(["r#0"]);
    // Within FAIL_OPEN_MS (5 s) of the failure the shard is not asked again, whatever the key.
    expect(await allowedOf(limiter, "c", namespace, 100, now + 4_000)).toBe(10);
    expect(calls).toEqual(["r#0"]);
    // The next window, past it: asked once more (still away), then counted locally afresh.
    expect(await allowedOf(limiter, "a", namespace, 100, now + 60_000)).toBe(10);
    expect(calls).toEqual(["r#0", "r#0"]);
  });

  it("leaves the other shards' keys to their shards: a spent window there stays spent", async () => {
    const { namespace, calls } = shards(new Set(["r#0"]));
    const limiter = new GlobalLimiter(rule(8));
    const now = 1_800_000_000_000;
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    let allowed = 0;
    for (const key of keys) allowed += await allowedOf(limiter, key, namespace, 20, now);
    expect(calls.filter((name) => name === "r#0")).toHaveLength(1);
    // Keys of shard 0 are held to 10 each locally; every other shard granted nothing.
    const shard0Keys = keys.filter((key) => fnv1a(key) % 8 === 0).length;
    expect(shard0Keys).toBeGreaterThan(0);
    expect(allowed).toBe(10 * shard0Keys);
    expect(new Set(calls)).toEqual(new Set(Array.from({ length: 8 }, (_, i) => `r#${i}`)));
  });

  it("counts what the shard granted this window with what it gives itself: a lease of the whole limit, then the shard away, allows the limit, not twice", async () => {
    let calls = 0;
    const namespace = {
      idFromName: (name: string) => name,
      get: () => ({
        lease: async (request: LeaseRequest): Promise<Lease> => {
          if (calls++ > 0) throw new Error("shard away");
          return { granted: request.limit, remaining: 0, resetAt: (request.window + 1) * request.windowMs };
        },
      }),
    } as unknown as Namespace;
    const limiter = new GlobalLimiter({ ...rule(1), requests: 10 });
    // The first request's lease asks for all 10 (ramp: the limit), and gets them.
    const now = 1_800_000_000_000;
    let allowed = 0;
    for (let i = 0; i < 100; i++) if ((await limiter.take("a", namespace, ctx, now + i)).allowed) allowed++;
    expect(allowed).toBe(10);
  });
});
