/** The run-time registry: registration, heartbeats and TTL expiry, drain, deregistration, and what gateways see of it. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let fixed: Upstream;
let extra: Upstream;
let mesh: TestGateway;

beforeAll(async () => {
  fixed = await Upstream.start("fixed");
  extra = await Upstream.start("extra");
  mesh = await TestGateway.start(
    [
      backend("api", [fixed.url]),
      simpleRoute("api", "api.test", "api"),
      { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "dynamic" }, spec: { endpoints: [], registration: { allowedCIDRs: ["127.0.0.0/8"] } } },
      simpleRoute("dynamic", "dynamic.test", "dynamic"),
      backend("worker", { service: "NOPE" }),
      { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "pool", namespace: "shop" }, spec: { endpoints: [], registration: { allowedCIDRs: ["127.0.0.0/8"] } } },
      { ...simpleRoute("pool", "pool.shop.test", "pool"), metadata: { name: "pool", namespace: "shop" } },
    ],
    { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: "100" } },
  );
});

afterEach(() => {
  fixed.reset();
  extra.reset();
});

afterAll(async () => {
  await mesh.dispose();
  await Promise.all([fixed.close(), extra.close()]);
});

/** Polls until every isolate's answers satisfy `check`, or gives up after ~5 s. */
async function eventually(host: string, check: (servers: string[]) => boolean): Promise<string[]> {
  let servers: string[] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    servers = [];
    for (const isolate of [0, 1]) {
      for (let i = 0; i < 4; i++) {
        const response = await mesh.fetch(`http://${host}/`, {}, isolate);
        servers.push(response.status === 200 ? ((await response.json()) as Echo).server : String(response.status));
      }
    }
    if (check(servers)) return servers;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return servers;
}

describe("registration", () => {
  it("adds a registered endpoint to a backend on every isolate", async () => {
    expect((await mesh.fetch("http://dynamic.test/")).status).toBe(503);
    const { status, body } = await mesh.admin("POST", "/backends/dynamic/endpoints", { url: extra.url, zone: "z1", version: "v9", ttlSeconds: 60 });
    expect(status).toBe(201);
    expect(body).toEqual({ url: extra.url, weight: 1, zone: "z1", version: "v9", draining: false });
    expect(await eventually("dynamic.test", (s) => s.every((server) => server === "extra"))).toEqual(Array(8).fill("extra"));
  });

  it("joins a registered endpoint to a backend's static ones", async () => {
    await mesh.admin("POST", "/backends/api/endpoints", { url: extra.url, ttlSeconds: 60 });
    const servers = await eventually("api.test", (s) => s.includes("extra") && s.includes("fixed"));
    expect(new Set(servers)).toEqual(new Set(["extra", "fixed"]));
  });

  it("shows registered endpoints with their expiry on the backend", async () => {
    const { body } = await mesh.admin<{ registered: { url: string; expiresAt: number }[]; endpoints: { id: string }[] }>("GET", "/backends/api");
    expect(body.registered.map((e) => e.url)).toEqual([extra.url]);
    expect(body.registered[0]!.expiresAt).toBeGreaterThan(Date.now() + 50_000);
  });

  it("drains an endpoint: no new requests, still listed", async () => {
    expect((await mesh.admin("POST", "/backends/api/endpoints/drain", { url: extra.url })).status).toBe(200);
    expect(await eventually("api.test", (s) => s.every((server) => server === "fixed"))).toEqual(Array(8).fill("fixed"));
    const { body } = await mesh.admin<{ registered: { draining: boolean }[] }>("GET", "/backends/api");
    expect(body.registered[0]!.draining).toBe(true);
  });

  it("keeps the drain when the endpoint's agent renews by registering again", async () => {
    const renewed = await mesh.admin<{ draining: boolean }>("POST", "/backends/api/endpoints", { url: extra.url, ttlSeconds: 60 });
    expect(renewed.status).toBe(201);
    expect(renewed.body.draining).toBe(true);
    expect((await mesh.admin<{ registered: { draining: boolean }[] }>("GET", "/backends/api")).body.registered[0]!.draining).toBe(true);
    expect(await eventually("api.test", (s) => s.every((server) => server === "fixed"))).toEqual(Array(8).fill("fixed"));
  });

  it("deregisters an endpoint", async () => {
    expect((await mesh.admin("DELETE", `/backends/api/endpoints?url=${encodeURIComponent(extra.url)}`)).status).toBe(200);
    expect((await mesh.admin<{ registered: unknown[] }>("GET", "/backends/api")).body.registered).toEqual([]);
    expect((await mesh.admin("DELETE", `/backends/api/endpoints?url=${encodeURIComponent(extra.url)}`)).status).toBe(404);
  });
});

describe("concurrent changes", () => {
  it("publishes the last of many concurrent registrations: every isolate ends up with all of them", async () => {
    const urls = Array.from({ length: 5 }, (_, i) => `http://127.0.0.1:${20001 + i}`);
    await Promise.all(urls.map((url, i) => mesh.admin("POST", "/backends/api/endpoints", { url, ttlSeconds: 60 }, i % 2)));
    for (const isolate of [0, 1]) {
      let ids: string[] = [];
      for (let attempt = 0; attempt < 100 && !urls.every((url) => ids.includes(url)); attempt++) {
        ids = (await mesh.admin<{ endpoints: { id: string }[] }>("GET", "/backends/api", undefined, isolate)).body.endpoints.map((e) => e.id);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(ids).toEqual(expect.arrayContaining(urls));
    }
    await Promise.all(urls.map((url) => mesh.admin("DELETE", `/backends/api/endpoints?url=${encodeURIComponent(url)}`)));
  });
});

describe("a backend outside the default namespace", () => {
  it("is read, registered into, drained and deregistered as /backends/<namespace>/<name>", async () => {
    expect((await mesh.admin("POST", "/backends/shop/pool/endpoints", { url: extra.url, ttlSeconds: 60 })).status).toBe(201);
    expect(await eventually("pool.shop.test", (s) => s.every((server) => server === "extra"))).toEqual(Array(8).fill("extra"));
    const read = await mesh.admin<{ name: string; registered: { url: string; draining: boolean }[] }>("GET", "/backends/shop/pool");
    expect(read.status).toBe(200);
    expect(read.body.name).toBe("shop/pool");
    expect(read.body.registered.map((endpoint) => endpoint.url)).toEqual([extra.url]);
    expect((await mesh.admin("POST", "/backends/shop/pool/endpoints/heartbeat", { url: extra.url })).status).toBe(200);
    expect((await mesh.admin("POST", "/backends/shop/pool/endpoints/drain", { url: extra.url })).status).toBe(200);
    expect((await mesh.admin("DELETE", `/backends/shop/pool/endpoints?url=${encodeURIComponent(extra.url)}`)).status).toBe(200);
    // "default/<name>" is the default namespace's <name>; another namespace's name alone is no backend.
    expect((await mesh.admin<{ name: string }>("GET", "/backends/default/api")).body.name).toBe("api");
    expect((await mesh.admin("GET", "/backends/pool")).status).toBe(404);
    const audit = (await mesh.admin<{ entries: { action: string; detail: { backend?: string } }[] }>("GET", "/audit?limit=10")).body.entries;
    expect(audit.filter((entry) => entry.detail.backend === "shop/pool").map((entry) => entry.action)).toEqual(["deregister", "drain", "register"]);
  });
});

describe("heartbeats and expiry", () => {
  it("drops an endpoint whose TTL passes without a heartbeat, and keeps one that beats", async () => {
    const other = await Upstream.start("other");
    try {
      await mesh.admin("POST", "/backends/dynamic/endpoints", { url: other.url, ttlSeconds: 1 });
      await mesh.admin("POST", "/backends/dynamic/endpoints", { url: extra.url, ttlSeconds: 1 });
      // Keep "extra" alive past its first TTL; let "other" lapse.
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect((await mesh.admin("POST", "/backends/dynamic/endpoints/heartbeat", { url: extra.url })).status).toBe(200);
      }
      const { body } = await mesh.admin<{ registered: { url: string }[] }>("GET", "/backends/dynamic");
      expect(body.registered.map((e) => e.url)).toEqual([extra.url]);
      expect(await eventually("dynamic.test", (s) => s.every((server) => server === "extra"))).toEqual(Array(8).fill("extra"));
      expect((await mesh.admin("POST", "/backends/dynamic/endpoints/heartbeat", { url: other.url })).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});

describe("bad registrations", () => {
  it("refuses unknown backends, Worker backends and malformed endpoints", async () => {
    expect((await mesh.admin("POST", "/backends/ghost/endpoints", { url: extra.url })).status).toBe(404);
    const worker = await mesh.admin<{ error: { message: string } }>("POST", "/backends/worker/endpoints", { url: extra.url });
    expect(worker.status).toBe(400);
    expect(worker.body.error.message).toContain("is a Worker");
    const bad = await mesh.admin<{ error: { errors: string[] } }>("POST", "/backends/api/endpoints", { url: "ftp://x", ttlSeconds: 0, color: "red" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.errors.length).toBeGreaterThanOrEqual(2);
  });
});
