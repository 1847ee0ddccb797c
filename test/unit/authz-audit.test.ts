/** The bounds on authorization audit entries: per policy per isolate (AuthzAuditLog), and mesh-wide in the ConfigStore (AuthzAuditCap). */
import { describe, expect, it } from "vitest";
import type { AuthzAuditEntry } from "../../common/protocol.ts";
import { AUTHZ_AUDIT_LIMITS, AuthzAuditCap } from "../../durable-objects/authz-audit.ts";
import { AuthzAuditLog } from "../../workers/gateway/authz/audit-log.ts";

const entry = (policy: string, i: number): AuthzAuditEntry => ({
  at: i, action: "authz.deny", actor: "anonymous", policy, policyAction: "ALLOW", route: "r", backend: "b", method: "GET", path: `/${i}`, requestId: `id${i}`, suppressed: 0,
});

const accounted = (entries: AuthzAuditEntry[]) => entries.reduce((sum, e) => sum + 1 + e.suppressed, 0);

describe("AuthzAuditLog (per isolate)", () => {
  it("sends a burst of 10 per policy, then counts the rest onto the policy's next entry", () => {
    const log = new AuthzAuditLog();
    for (let i = 0; i < 100; i++) log.record(entry("a", i), 0, 10);
    for (let i = 0; i < 3; i++) log.record(entry("b", i), 0, 10);
    const first = log.drain(0, 10);
    expect(first.filter((e) => e.policy === "a")).toHaveLength(10);
    expect(first.filter((e) => e.policy === "b")).toHaveLength(3);
    expect(log.nextPending(0, 10)).toBe(6_000);
    // Six seconds later one token is back: the last suppressed request goes out carrying the other 89.
    const later = log.drain(6_000, 10);
    expect(later).toEqual([{ ...entry("a", 99), suppressed: 89 }]);
    expect(accounted([...first, ...later].filter((e) => e.policy === "a"))).toBe(100);
    expect(log.nextPending(6_000, 10)).toBeUndefined();
  });

  it("a new denial after suppressed ones carries their count", () => {
    const log = new AuthzAuditLog();
    for (let i = 0; i < 15; i++) log.record(entry("a", i), 0, 10);
    log.drain(0, 10);
    log.record(entry("a", 15), 60_000, 10);
    expect(log.drain(60_000, 10)).toEqual([{ ...entry("a", 15), suppressed: 5 }]);
  });
});

describe("AuthzAuditCap (ConfigStore)", () => {
  it("stores at most perCall entries per call and perMinute per minute, carrying the dropped count", () => {
    const cap = new AuthzAuditCap();
    const many = Array.from({ length: AUTHZ_AUDIT_LIMITS.perCall + 5 }, (_, i) => entry("a", i));
    const first = cap.admit(many, 1_000);
    expect([first.stored.length, first.dropped]).toEqual([AUTHZ_AUDIT_LIMITS.perCall, 5]);
    const next = cap.admit([{ ...entry("a", 999), suppressed: 2 }], 2_000);
    expect(next.stored[0]!.detail.suppressed).toBe(7);
    let stored = AUTHZ_AUDIT_LIMITS.perCall + 1;
    while (stored < AUTHZ_AUDIT_LIMITS.perMinute) stored += cap.admit(many.slice(0, AUTHZ_AUDIT_LIMITS.perCall), 3_000).stored.length;
    expect(stored).toBe(AUTHZ_AUDIT_LIMITS.perMinute);
    expect(cap.admit([entry("a", 1)], 4_000)).toMatchObject({ stored: [], dropped: 1 });
    expect(cap.admit([entry("a", 1)], 62_000).stored).toHaveLength(1);
  });

  it("clips what clients control and refuses unknown actions", () => {
    const cap = new AuthzAuditCap();
    const { stored } = cap.admit([{ ...entry("a", 1), path: `/${"x".repeat(5000)}`, actor: "" }, { ...entry("a", 2), action: "apply" as "authz.deny" }, null as unknown as AuthzAuditEntry], 0);
    expect(stored).toHaveLength(1);
    expect((stored[0]!.detail.path as string).length).toBe(2048);
    expect(stored[0]!.actor).toBe("anonymous");
  });
});
