/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * The audit log keeps every change, and only the newest authorization entries (which any client can
 * cause): AuditLog over a ConfigStore's own SQLite storage.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AuditLog } from "../../durable-objects/audit-log.ts";

describe("audit retention", () => {
  it("drops authorization entries past the newest `kept`, and never a change", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("audit-retention"));
    await runInDurableObject(stub, (_object, state) => {
      const log = new AuditLog(state.storage.sql);
      for (let i = 0; i < 5; i++) log.append(1_000 + i, "spiffe://t/ns/ops/sa/deployer", "apply", i, i + 1, { n: i });
      const denial = (i: number) => ({ at: 2_000 + i, actor: "anonymous", action: i % 3 ? "authz.deny" : "authz.dry-run", detail: { i } });
      // In batches, as gateways send them; pruned once the batches add up to `kept`.
      for (let batch = 0; batch < 6; batch++) log.appendAuthz(Array.from({ length: 5 }, (_, j) => denial(batch * 5 + j)), 10);
      log.pruneAuthz(10);
      const entries = log.read(1_000);
      const authz = entries.filter((entry) => entry.action.startsWith("authz."));
      expect(authz.map((entry) => (entry.detail as { i: number }).i)).toEqual([29, 28, 27, 26, 25, 24, 23, 22, 21, 20]);
      expect(entries.filter((entry) => entry.action === "apply")).toHaveLength(5);
    });
  });
});
