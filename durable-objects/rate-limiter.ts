/**
 * RateLimiter: counts one shard of a global rate-limit rule's keys. Isolates do not ask per request:
 * they lease tokens in batches sized to their own traffic and spend them locally, so the object sees
 * about one call per batch. It never grants more than the limit in a window (no over-admission); near
 * the end of a window it grants half of what is left per call, so the last tokens go to whichever
 * isolates still have traffic rather than sitting unused in one.
 */
import { DurableObject } from "cloudflare:workers";

export interface LeaseRequest {
  key: string;
  /** Fixed window index: floor(epoch ms / windowMs), computed by the isolate. */
  window: number;
  windowMs: number;
  limit: number;
  want: number;
}

export interface Lease {
  granted: number;
  /** Tokens left for everyone in this window after this grant. */
  remaining: number;
  resetAt: number;
}

export interface RateLimiterStats {
  calls: number;
  granted: number;
  keys: { key: string; window: number; granted: number }[];
}

export class RateLimiter extends DurableObject {
  private readonly sql: SqlStorage;
  private readonly counters = new Map<string, { window: number; granted: number; expiresAt: number }>();
  private calls = 0;
  private grantedTotal = 0;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, window INTEGER NOT NULL,
        granted INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
      this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
      for (const row of this.sql.exec<{ key: string; window: number; granted: number; expires_at: number }>("SELECT * FROM counters").toArray()) {
        this.counters.set(row.key, { window: row.window, granted: row.granted, expiresAt: row.expires_at });
      }
      const meta = new Map(this.sql.exec<{ key: string; value: number }>("SELECT * FROM meta").toArray().map((row) => [row.key, row.value]));
      this.calls = meta.get("calls") ?? 0;
      this.grantedTotal = meta.get("granted") ?? 0;
    });
  }

  async lease(request: LeaseRequest): Promise<Lease> {
    const resetAt = (request.window + 1) * request.windowMs;
    let counter = this.counters.get(request.key);
    if (!counter || counter.window < request.window) counter = { window: request.window, granted: 0, expiresAt: resetAt };
    // A lease for a window that is already over (a slow isolate clock) gets nothing.
    const stale = counter.window > request.window;
    const left = stale ? 0 : Math.max(0, request.limit - counter.granted);
    const want = Math.max(1, Math.floor(request.want));
    const granted = left >= 2 * want ? want : Math.min(left, Math.ceil(left / 2));
    counter.granted += granted;
    this.counters.set(request.key, counter);
    this.calls++;
    this.grantedTotal += granted;
    this.sql.exec(
      "INSERT OR REPLACE INTO counters (key, window, granted, expires_at) VALUES (?, ?, ?, ?)",
      request.key,
      counter.window,
      counter.granted,
      counter.expiresAt,
    );
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('calls', ?), ('granted', ?)", this.calls, this.grantedTotal);
    if (this.calls % 100 === 0) this.forgetExpired(Date.now());
    return { granted, remaining: left - granted, resetAt };
  }

  async stats(): Promise<RateLimiterStats> {
    const keys = [...this.counters].map(([key, { window, granted }]) => ({ key, window, granted }));
    return { calls: this.calls, granted: this.grantedTotal, keys };
  }

  /** Drops keys whose window is over, so a shard does not grow with every client it has ever seen. */
  private forgetExpired(now: number): void {
    this.sql.exec("DELETE FROM counters WHERE expires_at < ?", now);
    for (const [key, counter] of this.counters) if (counter.expiresAt < now) this.counters.delete(key);
  }
}
