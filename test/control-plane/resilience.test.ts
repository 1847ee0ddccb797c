/** State survives a restart; a Durable Object that hangs or fails never stops the gateway from serving. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let a: Upstream;
let b: Upstream;

beforeAll(async () => {
  a = await Upstream.start("a");
  b = await Upstream.start("b");
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

const documents = (target: string) => [
  backend("a", [a.url]),
  backend("b", [b.url]),
  { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "pool" }, spec: { endpoints: [], registration: { allowedCIDRs: ["127.0.0.0/8"] } } },
  simpleRoute("app", "app.test", target),
  simpleRoute("pool", "pool.test", "pool"),
];

describe("persistence", () => {
  it("finds the registry, every config version and the audit log after workerd restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-state-"));
    try {
      const first = await TestGateway.start(documents("a"), { isolates: 1, persistDir: dir, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
      await first.fetch("http://app.test/");
      expect((await first.admin("POST", "/config/apply", { documents: documents("b"), baseVersion: 1 })).status).toBe(200);
      expect((await first.admin("POST", "/config/rollback", { version: 1, baseVersion: 2 })).status).toBe(200);
      expect((await first.admin("POST", "/backends/pool/endpoints", { url: b.url, ttlSeconds: 3600 })).status).toBe(201);
      const before = {
        versions: (await first.admin("GET", "/config/versions")).body,
        audit: (await first.admin("GET", "/audit")).body,
        registered: (await first.admin<{ registered: unknown }>("GET", "/backends/pool")).body.registered,
      };
      await first.dispose();

      const second = await TestGateway.start(documents("a"), { isolates: 1, persistDir: dir, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
      try {
        expect((await second.admin("GET", "/config/versions")).body).toEqual(before.versions);
        expect((await second.admin("GET", "/audit")).body).toEqual(before.audit);
        expect((await second.admin<{ registered: unknown }>("GET", "/backends/pool")).body.registered).toEqual(before.registered);
        expect((await second.admin<{ versions: unknown[] }>("GET", "/config/versions")).body.versions).toHaveLength(3);
        // The restarted gateway serves version 3 and the registered endpoint at once.
        expect(((await (await second.fetch("http://pool.test/")).json()) as Echo).server).toBe("b");
        expect((await second.admin<{ isolate: { tableVersion: number } }>("GET", "/status")).body.isolate.tableVersion).toBe(3);
      } finally {
        await second.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Durable Object classes that stand in for the control plane: every method hangs, or every method throws. */
const standIn = (behaviour: "hang" | "throw") => {
  const body = behaviour === "hang" ? "return new Promise(() => {});" : 'throw new Error("control plane down");';
  const methods = (names: string[]) => names.map((name) => `async ${name}() { ${body} }`).join("\n");
  return `import { DurableObject } from "cloudflare:workers";
export class ConfigStore extends DurableObject { ${methods(["seed", "apply", "rollback", "current", "getVersion", "history", "diff", "audit", "snapshot", "publishRegistry"])} }
export class BackendCoordinator extends DurableObject { ${methods(["report", "snapshot", "register", "heartbeat", "drain", "deregister", "endpoints"])} }
export class RateLimiter extends DurableObject { ${methods(["lease", "stats"])} }
export default { fetch() { return new Response("control plane stand-in"); } };`;
};

for (const behaviour of ["hang", "throw"] as const) {
  describe(`a control plane that ${behaviour}s`, () => {
    let mesh: TestGateway;

    beforeAll(async () => {
      mesh = await TestGateway.start(
        [
          ...documents("a"),
          simpleRoute("guarded", "guarded.test", "a"),
          trafficPolicy("guarded", { kind: "HTTPRoute", name: "guarded" }, { rateLimit: { global: { rules: [{ limit: { requests: 1000, unit: "Hour" } }] } } }),
          trafficPolicy("a", { kind: "Backend", name: "a" }, { healthCheck: { passive: { consecutive5XxErrors: 2 } } }),
        ],
        { isolates: 2, controlPlaneScript: standIn(behaviour), vars: { CONFIG_POLL_INTERVAL_MS: "100", HEALTH_REPORT_INTERVAL_MS: "100" } },
      );
    });

    afterAll(() => mesh.dispose());

    it("keeps serving the deploy's policies, with health reports and rate limits failing open", async () => {
      const startedAt = Date.now();
      for (let i = 0; i < 20; i++) {
        for (const [host, server] of [["app.test", "a"], ["guarded.test", "a"]]) {
          const response = await mesh.fetch(`http://${host}/`, {}, i % 2);
          expect(response.status).toBe(200);
          expect(((await response.json()) as Echo).server).toBe(server);
        }
      }
      // A failed lease makes the rule fail open without asking for 5 s: one call (and wait) per isolate per 5 s, not one per request.
      const intervals = Math.floor((Date.now() - startedAt) / 5_000) + 1;
      const failed = mesh.logs.filter((line) => line.message === "rate limiter unreachable; allowing traffic");
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.length).toBeLessThanOrEqual(2 * intervals);
    });

    if (behaviour === "throw") {
      it("answers admin calls with 503 and the reason", async () => {
        const { status, body } = await mesh.admin<{ error: { reason: string; message: string } }>("GET", "/config");
        expect(status).toBe(503);
        expect(body.error.reason).toBe("control_plane_unavailable");
        expect(body.error.message).toContain("control plane down");
      });
    }
  });
}
