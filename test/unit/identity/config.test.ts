/** The identity settings' parsing: MESH_KID_REFRESH_INTERVAL_MS, its default and its bounds. */
import { describe, expect, it } from "vitest";
import { identityConfig } from "../../../common/identity/config.ts";

describe("MESH_KID_REFRESH_INTERVAL_MS", () => {
  it("defaults to 10 s and takes whole milliseconds from 1 s to 1 h", () => {
    expect(identityConfig({}).kidRefreshIntervalMs).toBe(10_000);
    expect(identityConfig({ MESH_KID_REFRESH_INTERVAL_MS: "" }).kidRefreshIntervalMs).toBe(10_000);
    expect(identityConfig({ MESH_KID_REFRESH_INTERVAL_MS: "1000" }).kidRefreshIntervalMs).toBe(1_000);
    expect(identityConfig({ MESH_KID_REFRESH_INTERVAL_MS: "3600000" }).kidRefreshIntervalMs).toBe(3_600_000);
  });

  it("refuses anything else, naming the variable (a flood of made-up kids must not reach the Issuer per request)", () => {
    for (const value of ["0", "999", "3600001", "1.5s", "2500.5", "-1"]) {
      expect(() => identityConfig({ MESH_KID_REFRESH_INTERVAL_MS: value })).toThrow(`MESH_KID_REFRESH_INTERVAL_MS must be a whole number of milliseconds from 1000 to 3600000 (got ${JSON.stringify(value)})`);
    }
  });
});
