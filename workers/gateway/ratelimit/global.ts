/**
 * Global rate limit, client side: tokens are leased from the rule's RateLimiter Durable Object (one of
 * `shards`, by key) in batches sized to this isolate's traffic, and spent locally. A request waits on
 * the Durable Object only when the isolate has no tokens left; the next batch is fetched in the
 * background before that happens. If the Durable Object cannot be reached, requests are allowed
 * (fail open): a slow control plane must not take the mesh down. After a lease from a shard fails,
 * that shard's keys do not ask it for FAIL_OPEN_MS (instead of each waiting LEASE_TIMEOUT_MS on an
 * object that is away): they fall back to a local count, at most the rule's limit per key and window
 * in this isolate, so one slow shard neither stalls the rule's traffic nor switches its limit off.
 */
import { rateLimiterOf, type Namespace } from "../../../common/protocol.ts";
import { fnv1a } from "../lb/hash.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import { LruMap } from "../../../common/lru.ts";
import type { RateLimitRule, Verdict, Waiter } from "./rule.ts";

/** How much traffic a lease should cover: about a second of this isolate's recent rate. */
const LEASE_HORIZON_MS = 1_000;
const LEASE_TIMEOUT_MS = 1_000;
const FAIL_OPEN_MS = 5_000;
const MAX_KEYS = 10_000;

interface KeyState {
  window: number;
  tokens: number;
  /** The Durable Object has no tokens left for this window. */
  exhausted: boolean;
  /** What the Durable Object had left for everyone after its last grant to this isolate. */
  leftGlobally: number;
  /** Its shard (fnv1a of the key). */
  shard: number;
  /** Tokens this isolate was granted and gave itself this window (the latter while the shard was away): at most the limit together. */
  leased: number;
  local: number;
  pending: Promise<void> | undefined;
  seen: number;
  firstSeenAt: number;
  lastWant: number;
  lastLeaseAt: number;
}

export class GlobalLimiter {
  private readonly states = new LruMap<string, KeyState>(MAX_KEYS);
  /** Lease calls this isolate made (for the benchmark's calls per 100 requests). */
  calls = 0;
  /** Per shard, until when no lease is asked of it: its last one failed. */
  private readonly failedOpenUntil = new Map<number, number>();

  constructor(public rule: RateLimitRule) {}

  /** Synchronous while the isolate holds tokens (or knows the window is spent): only a lease it has to have is awaited. */
  take(key: string, namespace: Namespace, ctx: Waiter, now: number): Verdict | Promise<Verdict> {
    const { windowMs } = this.rule;
    const window = Math.floor(now / windowMs);
    const resetMs = (window + 1) * windowMs - now;
    const state = this.stateFor(key, window, now);
    state.seen++;
    return this.spend(state, key, namespace, ctx, now, resetMs) ?? this.awaitTokens(state, key, namespace, ctx, now, resetMs);
  }

  /** A token if there is one, a denial if the window is spent, undefined if a lease must come first. */
  private spend(state: KeyState, key: string, namespace: Namespace, ctx: Waiter, now: number, resetMs: number): Verdict | undefined {
    const away = now < (this.failedOpenUntil.get(state.shard) ?? 0);
    if (state.tokens <= 0 && away && !state.exhausted && state.leased + state.local < this.rule.requests) {
      state.tokens = 1;
      state.local++;
    }
    if (state.tokens > 0) {
      state.tokens--;
      if (!state.exhausted && !state.pending && !away && state.tokens <= state.lastWant / 4) ctx.waitUntil(this.lease(state, key, namespace, now));
      // An estimate: this isolate's tokens plus what the object had left when it last asked.
      return { allowed: true, remaining: state.tokens + state.leftGlobally, resetMs };
    }
    return state.exhausted || away ? { allowed: false, remaining: 0, resetMs } : undefined;
  }

  private async awaitTokens(state: KeyState, key: string, namespace: Namespace, ctx: Waiter, now: number, resetMs: number): Promise<Verdict> {
    // Other requests may take the tokens of the lease this one waited for: a few rounds, then a denial.
    for (let round = 0; round < 8; round++) {
      await (state.pending ?? this.lease(state, key, namespace, now));
      const verdict = this.spend(state, key, namespace, ctx, now, resetMs);
      if (verdict) return verdict;
    }
    return { allowed: false, remaining: 0, resetMs };
  }

  describe() {
    return { calls: this.calls, keys: this.states.size };
  }

  private stateFor(key: string, window: number, now: number): KeyState {
    let state = this.states.get(key);
    if (state?.window === window) return state;
    state = { window, tokens: 0, exhausted: false, leftGlobally: 0, shard: fnv1a(key) % this.rule.shards, leased: 0, local: 0, pending: undefined, seen: 0, firstSeenAt: now, lastWant: 0, lastLeaseAt: 0 };
    this.states.set(key, state);
    return state;
  }

  private lease(state: KeyState, key: string, namespace: Namespace, now: number): Promise<void> {
    const { id, requests, windowMs } = this.rule;
    const rate = state.seen / Math.max(now - state.firstSeenAt, 100);
    const ramp = state.lastLeaseAt && now - state.lastLeaseAt < LEASE_HORIZON_MS / 2 ? state.lastWant * 2 : 0;
    const want = Math.min(requests, Math.max(1, Math.ceil(rate * LEASE_HORIZON_MS), ramp));
    const window = state.window;
    this.calls++;
    const stub = rateLimiterOf(namespace, `${id}#${state.shard}`);
    state.pending = withTimeout(stub.lease({ key, window, windowMs, limit: requests, want }), LEASE_TIMEOUT_MS)
      .then((lease) => {
        state.tokens += lease.granted;
        state.leased += lease.granted;
        state.leftGlobally = lease.remaining;
        if (lease.granted === 0) state.exhausted = true;
      })
      .catch((error) => {
        // Fail open for this batch (counted locally) and, without asking the shard, for FAIL_OPEN_MS; and say so.
        const batch = Math.max(0, Math.min(want, requests - state.leased - state.local));
        state.tokens += batch;
        state.local += batch;
        this.failedOpenUntil.set(state.shard, now + FAIL_OPEN_MS);
        console.error(JSON.stringify({ level: "warn", message: "rate limiter unreachable; allowing traffic", rule: id, error: String(error) }));
      })
      .finally(() => {
        state.pending = undefined;
        state.lastWant = want;
        state.lastLeaseAt = now;
      });
    return state.pending;
  }
}
