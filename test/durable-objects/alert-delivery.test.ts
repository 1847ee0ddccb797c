/// <reference types="@cloudflare/vitest-pool-workers/types" />
/** A webhook notification dropped after its last try is logged with the URL's origin only: the URL is a secret (redact.ts). */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";

describe("alert notifications", () => {
  it("logs a dropped notification without its webhook's path and query", async () => {
    const stub = env.ALERTS.get(env.ALERTS.idFromName("dropped-notification"));
    // Its last try is due now, to a port nothing listens on.
    const url = "http://127.0.0.1:9/hooks/T0000/B0000/secret-token?key=also-secret";
    await runInDurableObject(stub, (_object, state) => {
      state.storage.sql.exec("INSERT INTO notifications (url, body, deliveries, next_at) VALUES (?, '{}', 5, ?)", url, Date.now() - 1);
      return state.storage.setAlarm(Date.now() + 60_000);
    });
    const errors = vi.spyOn(console, "error");
    try {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      const dropped = errors.mock.calls.map((call) => String(call[0])).filter((line) => line.includes("alert notification dropped after retries"));
      expect(dropped).toHaveLength(1);
      expect(JSON.parse(dropped[0]!)).toMatchObject({ url: "http://127.0.0.1:9/<redacted>", deliveries: 6 });
      expect(dropped[0]).not.toContain("secret");
    } finally {
      errors.mockRestore();
    }
    const left = await runInDurableObject(stub, (_object, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM notifications").one().n);
    expect(left).toBe(0);
  });
});
