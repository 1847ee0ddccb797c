/**
 * This isolate's authorization denials on their way to the audit log (ConfigStore.recordAuthzAudit),
 * rate-limited per policy so a flood of denials costs a few entries, not one per request: a token
 * bucket per policy (a burst of BURST entries, then `perMinute`, default 10), the denials past it
 * counted and carried as `suppressed` by the policy's next entry. When denials were suppressed and
 * none follows, one entry (the last suppressed request, carrying the rest) goes out as soon as the
 * bucket allows, so every denial is accounted for: the entries' 1 + suppressed add up to them all.
 * Entries are batched and sent after responses (`waitUntil`), at most once per FLUSH_INTERVAL_MS.
 */
import type { AuthzAuditEntry } from "../../../common/protocol.ts";

export const DEFAULT_AUDIT_PER_MINUTE = 10;
const BURST = 10;
/** Entries waiting to be sent; past it, a denial is counted as suppressed instead. */
const MAX_QUEUE = 200;
/** Policies tracked at once (their names come from the configuration, so this is a safety net). */
const MAX_POLICIES = 1_000;

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  last: AuthzAuditEntry | undefined;
}

export class AuthzAuditLog {
  private readonly buckets = new Map<string, Bucket>();
  private queue: AuthzAuditEntry[] = [];
  flushScheduled = false;
  lastFlushAt = 0;

  /** Takes one denial (entry.suppressed is set here). */
  record(entry: AuthzAuditEntry, now: number, perMinute: number): void {
    const bucket = this.bucketOf(entry.policy, now, perMinute);
    if (bucket.tokens >= 1 && this.queue.length < MAX_QUEUE) {
      bucket.tokens--;
      this.queue.push({ ...entry, suppressed: bucket.suppressed + (bucket.last ? 1 : 0) });
      bucket.suppressed = 0;
      bucket.last = undefined;
    } else {
      // The newest suppressed denial stands for the rest when it is sent later.
      if (bucket.last) bucket.suppressed++;
      bucket.last = entry;
    }
  }

  /** Entries to send now, the suppressed denials whose bucket allows one included. */
  drain(now: number, perMinute: number): AuthzAuditEntry[] {
    for (const bucket of this.buckets.values()) {
      if (!bucket.last) continue;
      this.refill(bucket, now, perMinute);
      if (bucket.tokens < 1 || this.queue.length >= MAX_QUEUE) continue;
      bucket.tokens--;
      this.queue.push({ ...bucket.last, suppressed: bucket.suppressed });
      bucket.suppressed = 0;
      bucket.last = undefined;
    }
    const batch = this.queue;
    this.queue = [];
    return batch;
  }

  /** Milliseconds until an entry could be sent (0: one is queued), or undefined when none is waiting. */
  nextPending(now: number, perMinute: number): number | undefined {
    let wait: number | undefined = this.queue.length ? 0 : undefined;
    for (const bucket of this.buckets.values()) {
      if (!bucket.last) continue;
      this.refill(bucket, now, perMinute);
      const ms = bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) * 60_000) / perMinute);
      wait = wait === undefined ? ms : Math.min(wait, ms);
    }
    return wait;
  }

  private bucketOf(policy: string, now: number, perMinute: number): Bucket {
    let bucket = this.buckets.get(policy);
    if (!bucket) {
      if (this.buckets.size >= MAX_POLICIES) this.buckets.clear();
      this.buckets.set(policy, (bucket = { tokens: BURST, at: now, suppressed: 0, last: undefined }));
    }
    this.refill(bucket, now, perMinute);
    return bucket;
  }

  private refill(bucket: Bucket, now: number, perMinute: number): void {
    bucket.tokens = Math.min(BURST, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
    bucket.at = now;
  }
}
