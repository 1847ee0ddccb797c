/** Rate limits: local token buckets per isolate, and global limits that hold across isolates. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";

let up: Upstream;
let mesh: TestGateway;

const GLOBAL_LIMIT = 300;

beforeAll(async () => {
  up = await Upstream.start("up");
  mesh = await TestGateway.start(
    [
      backend("up", [up.url]),
      simpleRoute("per-ip", "per-ip.test", "up"),
      trafficPolicy("per-ip", { kind: "HTTPRoute", name: "per-ip" }, {
        rateLimit: {
          local: { rules: [{ name: "per-ip", clientSelectors: [{ sourceCIDR: { type: "Distinct", value: "0.0.0.0/0" } }], limit: { requests: 5, window: "10s" } }] },
        },
      }),
      simpleRoute("tiers", "tiers.test", "up"),
      trafficPolicy("tiers", { kind: "HTTPRoute", name: "tiers" }, {
        rateLimit: {
          local: {
            rules: [
              { name: "free-users", clientSelectors: [{ headers: [{ name: "x-tier", value: "free" }, { name: "x-user", type: "Distinct" }] }], limit: { requests: 2, unit: "Minute" } },
              { name: "per-subject", clientSelectors: [{ jwtClaims: [{ name: "sub" }] }], limit: { requests: 3, unit: "Minute" } },
            ],
          },
        },
      }),
      simpleRoute("shared-a", "shared-a.test", "up"),
      simpleRoute("shared-b", "shared-b.test", "up"),
      (() => {
        const policy = trafficPolicy("shared", { kind: "HTTPRoute", name: "shared-a" }, { rateLimit: { local: { rules: [{ limit: { requests: 2, unit: "Minute" } }] } } });
        policy.spec.targetRefs.push({ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "shared-b" });
        return policy;
      })(),
      simpleRoute("global", "global.test", "up"),
      trafficPolicy("global", { kind: "HTTPRoute", name: "global" }, {
        rateLimit: { global: { rules: [{ name: "route", limit: { requests: GLOBAL_LIMIT, unit: "Hour" } }] } },
      }),
    ],
    { isolates: 3 },
  );
});

afterAll(async () => {
  await mesh.dispose();
  await up.close();
});

const statuses = async (host: string, count: number, headers: Record<string, string> = {}, isolate = 0) => {
  const result: number[] = [];
  for (let i = 0; i < count; i++) result.push((await mesh.fetch(`http://${host}/`, { headers }, isolate)).status);
  return result;
};

const unsignedJwt = (claims: object) =>
  ["{\"alg\":\"none\"}", JSON.stringify(claims)].map((part) => Buffer.from(part).toString("base64url")).join(".") + ".";

describe("local limits", () => {
  it("gives each client IP its own bucket and answers 429 with Retry-After and RateLimit headers", async () => {
    const ip = { "cf-connecting-ip": "198.51.100.7" };
    expect(await statuses("per-ip.test", 5, ip)).toEqual([200, 200, 200, 200, 200]);
    const denied = await mesh.fetch("http://per-ip.test/", { headers: ip });
    expect(denied.status).toBe(429);
    expect(denied.headers.get("x-edgemesh-reason")).toBe("rate_limited");
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(denied.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    expect(denied.headers.get("ratelimit-policy")).toBe('"per-ip";q=5;w=10');
    expect(denied.headers.get("ratelimit")).toMatch(/^"per-ip";r=0;t=\d+$/);
    expect(((await denied.json()) as { error: { message: string } }).error.message).toBe('rate limit "per-ip" (5 per 10 s) exceeded');
    expect(await statuses("per-ip.test", 2, { "cf-connecting-ip": "2001:db8::1" })).toEqual([200, 200]);
  });

  it("reports the remaining quota on allowed answers", async () => {
    const response = await mesh.fetch("http://per-ip.test/", { headers: { "cf-connecting-ip": "203.0.113.50" } });
    expect(response.headers.get("ratelimit")).toMatch(/^"per-ip";r=4;t=\d+$/);
  });

  it("selects requests by header and buckets by header value or JWT claim", async () => {
    expect(await statuses("tiers.test", 3, { "x-tier": "free", "x-user": "ann" })).toEqual([200, 200, 429]);
    expect(await statuses("tiers.test", 2, { "x-tier": "free", "x-user": "bob" })).toEqual([200, 200]);
    expect(await statuses("tiers.test", 4, { "x-tier": "paid", "x-user": "ann" })).toEqual([200, 200, 200, 200]);
    const token = { authorization: `Bearer ${unsignedJwt({ sub: "svc-a" })}` };
    expect(await statuses("tiers.test", 4, token)).toEqual([200, 200, 200, 429]);
    expect(await statuses("tiers.test", 2, { authorization: "Bearer not-a-jwt" })).toEqual([200, 200]);
  });
});

describe("one policy on two routes", () => {
  it("gives each route its own bucket", async () => {
    expect(await statuses("shared-a.test", 3)).toEqual([200, 200, 429]);
    expect(await statuses("shared-b.test", 3)).toEqual([200, 200, 429]);
  });
});

describe("global limits", () => {
  it("hold across isolates within 2 % of the limit, with about one Durable Object call per batch", async () => {
    const hour = 3_600_000;
    if (Date.now() % hour > hour - 20_000) await new Promise((resolve) => setTimeout(resolve, hour - (Date.now() % hour) + 100));
    const perClient = 200;
    const clients = Array.from({ length: 9 }, (_, i) => i);
    const results = await Promise.all(clients.map(async (client) => statuses("global.test", perClient, {}, client % 3)));
    const all = results.flat();
    const allowed = all.filter((status) => status === 200).length;
    expect(all.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(allowed).toBeLessThanOrEqual(GLOBAL_LIMIT);
    expect(allowed).toBeGreaterThanOrEqual(GLOBAL_LIMIT * 0.98);
    const { body } = await mesh.admin<{ rules: { name: string; global: { calls: number; granted: number } }[] }>("GET", "/ratelimits");
    const rule = body.rules.find((r) => r.name === "route")!;
    expect(rule.global.granted).toBeLessThanOrEqual(GLOBAL_LIMIT);
    console.log(`global limit: ${allowed}/${GLOBAL_LIMIT} allowed of ${all.length} requests; ${rule.global.calls} Durable Object calls`);
    expect(rule.global.calls).toBeLessThan(all.length / 10);
  });
});
