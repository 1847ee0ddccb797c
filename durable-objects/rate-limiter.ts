/**
 * RateLimiter: counts one shard of a global rate-limit rule's keys. Isolates do not ask per request:
 * they lease tokens in batches sized to their own traffic and spend them locally, so the object sees
 * about one call per batch. It never grants more than the limit in a window (no over-admission); near
 * the end of a window it grants half of what is left per call, so the last tokens go to whichever
 * isolates still have traffic rather than sitting unused in one. Counts live in SQLite (read per key,
 * cached in a bounded map) and are dropped once their window is over.
 */
import { DurableObject } from "cloudflare:workers";
import { LruMap } from "../common/lru.ts";
import type { Lease, LeaseRequest, RateLimiterApi, RateLimiterStats } from "../common/protocol.ts";
import { MetaTable } from "./meta.ts";

interface Counter {
  window: number;
  granted: number;
  expiresAt: number;
}

const CACHED_KEYS = 10_000;

export class RateLimiter extends DurableObject implements RateLimiterApi {
  private readonly sql: SqlStorage;
  private readonly meta: MetaTable;
  private readonly counters = new LruMap<string, Counter>(CACHED_KEYS);

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    this.meta = new MetaTable(this.sql);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, window INTEGER NOT NULL,
      granted INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at)");
  }

  async lease(request: LeaseRequest): Promise<Lease> {
    const resetAt = (request.window + 1) * request.windowMs;
    // One count per window length (window numbers of two lengths do not compare): while a changed rule
    // rolls out, isolates of both lengths lease the same key, and one counter reset by each in turn
    // would enforce neither limit.
    const key = `${request.windowMs}|${request.key}`;
    let counter = this.counter(key) ?? this.counterBeforeLengths(request);
    if (!counter || counter.window < request.window) counter = { window: request.window, granted: 0, expiresAt: resetAt };
    // A lease for a window that is already over (a slow isolate clock) gets nothing.
    const left = counter.window > request.window ? 0 : Math.max(0, request.limit - counter.granted);
    const want = Math.max(1, Math.floor(request.want));
    const granted = left >= 2 * want ? want : Math.min(left, Math.ceil(left / 2));
    counter.granted += granted;
    this.counters.set(key, counter);
    this.sql.exec(
      "INSERT OR REPLACE INTO counters (key, window, granted, expires_at) VALUES (?, ?, ?, ?)",
      key,
      counter.window,
      counter.granted,
      counter.expiresAt,
    );
    const calls = this.meta.number("calls") + 1;
    this.meta.set("calls", calls);
    this.meta.set("granted", this.meta.number("granted") + granted);
    if (calls % 100 === 0) this.sql.exec("DELETE FROM counters WHERE expires_at < ?", Date.now());
    return { granted, remaining: left - granted, resetAt };
  }

  async stats(): Promise<RateLimiterStats> {
    const keys = this.sql.exec<{ keys: number }>("SELECT COUNT(*) AS keys FROM counters WHERE expires_at >= ?", Date.now()).one().keys;
    return { calls: this.meta.number("calls"), granted: this.meta.number("granted"), keys };
  }

  /**
   * The count an object of the previous deploy kept under the key alone, for the window under way: a
   * window number of the same value is of the same length (numbers of two lengths are far apart), so a
   * deploy does not reset the limits mid-window.
   */
  private counterBeforeLengths(request: LeaseRequest): Counter | undefined {
    const counter = this.counter(request.key);
    return counter?.window === request.window ? counter : undefined;
  }

  private counter(key: string): Counter | undefined {
    const cached = this.counters.get(key);
    if (cached) return cached;
    const row = this.sql.exec<{ window: number; granted: number; expires_at: number }>("SELECT window, granted, expires_at FROM counters WHERE key = ?", key).toArray()[0];
    return row && { window: row.window, granted: row.granted, expiresAt: row.expires_at };
  }
}
