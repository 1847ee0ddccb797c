/**
 * The ConfigStore's side of authorization auditing: gateways' denial entries, bounded before they
 * reach the append-only audit log. Gateways already rate-limit per policy per isolate; this caps the
 * mesh as a whole (many isolates, or a misbehaving one), so a flood of denials cannot drown the log
 * of configuration changes: at most MAX_PER_CALL entries per call and MAX_PER_MINUTE per minute are
 * stored, the rest counted into the next stored entry's `suppressed` (in memory: a restart of the
 * object loses that count, never an entry it stored). Every field is clipped: paths are client input.
 */
import type { AuthzAuditEntry } from "../common/protocol.ts";

export const AUTHZ_AUDIT_LIMITS = { perCall: 100, perMinute: 600, textLength: 512 } as const;

const ACTIONS = new Set(["authz.deny", "authz.dry-run"]);

const clip = (value: unknown, length: number = AUTHZ_AUDIT_LIMITS.textLength) => (typeof value === "string" ? value.slice(0, length) : undefined);

const count = (value: unknown) => (typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0);

export interface StoredAuthzEntry {
  at: number;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

export class AuthzAuditCap {
  private windowStart = 0;
  private inWindow = 0;
  /** Entries dropped (by the caps) and not yet carried by a stored entry, with what they had suppressed. */
  private carried = 0;

  /** The entries to store now, each clipped and bounded; `now` in epoch milliseconds. */
  admit(entries: readonly AuthzAuditEntry[], now: number): { stored: StoredAuthzEntry[]; dropped: number } {
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    const stored: StoredAuthzEntry[] = [];
    let dropped = 0;
    for (const entry of Array.isArray(entries) ? entries : []) {
      if (typeof entry !== "object" || entry === null || !ACTIONS.has(entry.action)) continue;
      if (stored.length >= AUTHZ_AUDIT_LIMITS.perCall || this.inWindow >= AUTHZ_AUDIT_LIMITS.perMinute) {
        dropped++;
        this.carried += 1 + count(entry.suppressed);
        continue;
      }
      this.inWindow++;
      const suppressed = count(entry.suppressed) + this.carried;
      this.carried = 0;
      stored.push({
        at: typeof entry.at === "number" && Number.isFinite(entry.at) ? entry.at : now,
        actor: clip(entry.actor) || "anonymous",
        action: entry.action,
        detail: {
          policy: clip(entry.policy),
          policyAction: entry.policyAction === "DENY" ? "DENY" : "ALLOW",
          route: clip(entry.route),
          backend: clip(entry.backend),
          method: clip(entry.method, 32),
          path: clip(entry.path, 2048),
          requestId: clip(entry.requestId, 128),
          suppressed,
        },
      });
    }
    return { stored, dropped };
  }
}
