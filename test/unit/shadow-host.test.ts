/** A mirrored copy's host (stages/mirror.ts shadowHost), as Envoy names it. */
import { describe, expect, it } from "vitest";
import { shadowHost } from "../../workers/gateway/stages/mirror.ts";

describe("shadowHost", () => {
  it('puts "-shadow" after the name and before any port; an IP literal stays', () => {
    expect(shadowHost("api.test")).toBe("api.test-shadow");
    expect(shadowHost("api.test:8443")).toBe("api.test-shadow:8443");
    expect(shadowHost("localhost:8787")).toBe("localhost-shadow:8787");
    expect(shadowHost("[::1]:8787")).toBe("[::1]:8787");
    expect(shadowHost("[fd00::1]")).toBe("[fd00::1]");
    expect(shadowHost("127.0.0.1:9")).toBe("127.0.0.1:9");
    // Whatever the host, the result parses as one.
    for (const host of ["api.test:8443", "[::1]:8787", "a.b.c"]) expect(new URL(`https://${shadowHost(host)}/x`).pathname).toBe("/x");
  });
});
