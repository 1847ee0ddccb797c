/// <reference types="@cloudflare/vitest-pool-workers/types" />
/** A BackendCoordinator's registry rows between an endpoint's expiry and the alarm that deletes it. */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { BackendCoordinatorApi } from "../../common/protocol.ts";

describe("an endpoint whose TTL has passed", () => {
  it("is not brought back by a heartbeat that arrives before the alarm deletes its row; registering again makes it anew, undrained", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("expired-pool"));
    const coordinator = stub as unknown as BackendCoordinatorApi;
    const url = "http://127.0.0.1:9101";
    expect((await coordinator.register("expired-pool", { url, ttlMs: 60_000 })).ok).toBe(true);
    expect(await coordinator.drain("expired-pool", url)).toBe(true);
    expect(await coordinator.heartbeat("expired-pool", url)).toBe(true);
    // The TTL passes; the alarm has not run yet.
    await runInDurableObject(stub, (_object, state) => void state.storage.sql.exec("UPDATE endpoints SET expires_at = ?", Date.now() - 1));
    expect(await coordinator.heartbeat("expired-pool", url)).toBe(false);
    const again = await coordinator.register("expired-pool", { url, ttlMs: 60_000 });
    expect(again.ok && again.endpoint.draining).toBe(false);
    expect(await coordinator.heartbeat("expired-pool", url)).toBe(true);
  });
});
