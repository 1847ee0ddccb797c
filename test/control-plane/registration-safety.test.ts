/**
 * Run-time registration is not an SSRF hole: metadata, link-local and unspecified addresses are refused
 * in every spelling workerd's URL parser accepts, so are credentials, paths, queries and fragments, and
 * a Backend says which hosts may register at all. Refused endpoints never reach any isolate's table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let upstream: Upstream;
let mesh: TestGateway;

const httpBackend = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name }, spec });

beforeAll(async () => {
  upstream = await Upstream.start("static");
  mesh = await TestGateway.start(
    [
      backend("api", [upstream.url]),
      httpBackend("pool", { endpoints: [], registration: { allowedCIDRs: ["127.0.0.0/8", "::1/128"], allowedHosts: ["*.internal.test"] } }),
      httpBackend("closed", { endpoints: [] }),
      httpBackend("scoped", { endpoints: [{ url: upstream.url }], registration: { allowedHosts: ["10.1.2.3"] }, tls: { mode: "DISABLE" } }),
      httpBackend("plain", { endpoints: [], registration: { allowedHosts: ["10.1.2.3", "127.0.0.5", "localhost"] } }),
      simpleRoute("pool", "pool.test", "pool"),
    ],
    { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: "100" } },
  );
  await mesh.fetch("http://pool.test/");
});

afterAll(async () => {
  await mesh.dispose();
  await upstream.close();
});

const register = (name: string, url: string) => mesh.admin<{ url?: string; error?: { reason: string; message: string; errors?: string[] } }>("POST", `/backends/${name}/endpoints`, { url, ttlSeconds: 60 });

/** What every isolate routes to and the coordinator holds for the pool: refused endpoints must show up nowhere. */
async function poolEndpoints(): Promise<string[]> {
  const seen = new Set<string>();
  for (const isolate of [0, 1]) {
    const { body } = await mesh.admin<{ endpoints: { id: string }[]; registered: { url: string }[] }>("GET", "/backends/pool", undefined, isolate);
    for (const endpoint of body.endpoints) seen.add(endpoint.id);
    for (const registered of body.registered) seen.add(registered.url);
  }
  return [...seen];
}

const METADATA = "must not point at a cloud metadata service (169.254.169.254";

describe("unsafe addresses, in every spelling", () => {
  const cases: [string, string][] = [
    ["http://169.254.169.254/", `${METADATA})`],
    ["http://2852039166/", `${METADATA}); written "2852039166"`],
    ["http://0xa9fea9fe/", `${METADATA}); written "0xa9fea9fe"`],
    ["http://0251.0376.0251.0376/", `${METADATA}); written "0251.0376.0251.0376"`],
    ["http://169.254.43518/", `${METADATA}); written "169.254.43518"`],
    ["http://169.254.169.254.:80/", `${METADATA}); written "169.254.169.254."`],
    ["http://169.254.169.254../", `${METADATA}); written "169.254.169.254.."`],
    ["http://[::ffff:a9fe:a9fe]/", `${METADATA}, inside the IPv4-mapped address ::ffff:a9fe:a9fe)`],
    ["http://[::FFFF:169.254.169.254]/", `${METADATA}, inside the IPv4-mapped address ::ffff:a9fe:a9fe); written "::FFFF:169.254.169.254"`],
    ["http://[::a9fe:a9fe]/", `${METADATA}, inside the IPv4-compatible address ::a9fe:a9fe)`],
    ["http://[64:ff9b::169.254.169.254]/", `${METADATA}, inside the NAT64 address 64:ff9b::a9fe:a9fe); written "64:ff9b::169.254.169.254"`],
    ["http://[fd00:ec2::254]/", "must not point at a cloud metadata service (fd00:ec2::254)"],
    ["http://100.100.100.200/", "must not point at a cloud metadata service (100.100.100.200)"],
    ["http://metadata.google.internal/", "must not point at a cloud metadata service (metadata.google.internal)"],
    ["HTTP://METADATA.Google.Internal./", 'must not point at a cloud metadata service (metadata.google.internal); written "METADATA.Google.Internal."'],
    ["http://169.254.10.20:8080", "must not point at a link-local address (169.254.10.20 in 169.254.0.0/16)"],
    ["http://[fe80::1]:8080", "must not point at a link-local address (fe80::1 in fe80::/10)"],
    ["http://0/", 'must not point at an unspecified address (0.0.0.0 in 0.0.0.0/8); written "0"'],
    ["http://0.0.0.0:9101", "must not point at an unspecified address (0.0.0.0 in 0.0.0.0/8)"],
    ["http://[::]:9101", "must not point at an unspecified address (::)"],
  ];

  it("refuses each with 400, naming the field and the reason; no isolate ever sees one", async () => {
    for (const [url, message] of cases) {
      const { status, body } = await register("pool", url);
      expect({ url, status, errors: body.error?.errors }).toEqual({ url, status: 400, errors: [`url: ${message}`] });
    }
    expect(await poolEndpoints()).toEqual([]);
  });

  it("refuses credentials, paths, queries and fragments instead of dropping them", async () => {
    const origin = 'an endpoint is an origin such as "http://127.0.0.1:9101"';
    const refused: [string, string][] = [
      ["http://169.254.169.254/latest/meta-data/", `${METADATA})`],
      ["http://user:pass@[::ffff:a9fe:a9fe]/", `${METADATA}, inside the IPv4-mapped address ::ffff:a9fe:a9fe)`],
      ["http://user:pass@127.0.0.1:9/", 'must not contain a user name or password ("user:pass@"): credentials do not belong in an endpoint URL'],
      ["http://127.0.0.1:9/x", `must not have a path ("/x"): ${origin}`],
      ["http://127.0.0.1:9/?a=1", `must not have a query ("/?a=1"): ${origin}`],
      ["http://127.0.0.1:9#top", `must not have a fragment ("#top"): ${origin}`],
    ];
    for (const [url, message] of refused) {
      const { status, body } = await register("pool", url);
      expect({ url, status, errors: body.error?.errors }).toEqual({ url, status: 400, errors: [`url: ${message}`] });
    }
    expect(await poolEndpoints()).toEqual([]);
  });

  it("checks again in the BackendCoordinator, whoever calls it", async () => {
    const stub = await mesh.durableObject("BACKEND_COORDINATOR", "pool");
    expect(await stub.register!("pool", { url: "http://2852039166/", ttlMs: 60_000 })).toEqual({ ok: false, message: `url: ${METADATA}); written "2852039166"` });
    expect(await stub.endpoints!()).toEqual([]);
  });

  it("takes at most 256 endpoints per backend, and renews one it has", async () => {
    const stub = await mesh.durableObject("BACKEND_COORDINATOR", "capped");
    const url = (i: number) => `http://127.0.0.1:${10_000 + i}`;
    for (let i = 0; i < 256; i++) expect((await stub.register!("capped", { url: url(i), ttlMs: 60_000 })) as { ok: boolean }).toMatchObject({ ok: true });
    expect(await stub.register!("capped", { url: url(256), ttlMs: 60_000 })).toEqual({ ok: false, message: "url: capped has 256 registered endpoints, the most it takes: deregister one (or let one expire) first" });
    expect((await stub.register!("capped", { url: url(0), ttlMs: 60_000 })) as { ok: boolean }).toMatchObject({ ok: true });
    expect(((await stub.endpoints!()) as unknown[]).length).toBe(256);
  });

  it("refuses the same in a policy file's static endpoints", async () => {
    const documents = [httpBackend("api", { endpoints: [{ url: "http://[::ffff:169.254.169.254]:80" }] }), simpleRoute("pool", "pool.test", "api")];
    const { status, body } = await mesh.admin<{ error: { errors: string[] } }>("POST", "/config/apply", { documents, sources: ["x.yaml", "x.yaml"] });
    expect(status).toBe(400);
    expect(body.error.errors).toEqual([
      `x.yaml: Backend/api spec.endpoints[0].url: ${METADATA}, inside the IPv4-mapped address ::ffff:a9fe:a9fe); written "::ffff:169.254.169.254"`,
    ]);
  });
});

describe("which hosts may register", () => {
  const how = "list the hosts or CIDR blocks that may register in its spec.registration.allowedHosts or spec.registration.allowedCIDRs";

  it("refuses every registration to a Backend with no static endpoints and no spec.registration, saying how to allow them", async () => {
    const { status, body } = await register("closed", upstream.url);
    expect(status).toBe(403);
    expect(body.error).toEqual({
      status: 403,
      reason: "registration_not_allowed",
      message: `url: backend "closed" accepts no registrations: it has no static endpoints and no spec.registration; ${how}`,
    });
  });

  it("allows the hosts of the static endpoints by default, and only those", async () => {
    expect((await register("api", "http://127.0.0.1:20999")).status).toBe(201);
    const { status, body } = await register("api", "http://localhost:20999");
    expect(status).toBe(403);
    expect(body.error!.message).toBe(
      `url: localhost may not register with backend "api": only hosts 127.0.0.1 may (the hosts of its static endpoints, as it has no spec.registration); to allow more, ${how}`,
    );
    await mesh.admin("DELETE", `/backends/api/endpoints?url=${encodeURIComponent("http://127.0.0.1:20999")}`);
  });

  it("allows what spec.registration lists: hosts, wildcard names and CIDR blocks, and nothing else", async () => {
    const allowed = ["http://127.0.0.9:20998", "http://[::1]:20998", "https://a.b.internal.test:20998"];
    for (const url of allowed) expect({ url, status: (await register("pool", url)).status }).toEqual({ url, status: 201 });
    const outside = await register("pool", "http://internal.test:20998");
    expect(outside.status).toBe(403);
    expect(outside.body.error!.message).toBe(
      `url: internal.test may not register with backend "pool": only hosts *.internal.test and CIDR blocks 127.0.0.0/8, ::1/128 may (its spec.registration); to allow more, ${how}`,
    );
    // An explicit list replaces the default: the static endpoint's own host is not on this one.
    expect((await register("scoped", "http://127.0.0.1:20998")).status).toBe(403);
    expect((await register("scoped", "http://10.1.2.3:20998")).status).toBe(201);
    for (const url of [...allowed, "http://10.1.2.3:20998"]) {
      const name = url.includes("10.1.2.3") ? "scoped" : "pool";
      expect((await mesh.admin("DELETE", `/backends/${name}/endpoints?url=${encodeURIComponent(url)}`)).status).toBe(200);
    }
  });
});

describe("plaintext outside loopback", () => {
  it("is refused with 400 naming url unless the Backend sets spec.tls.mode DISABLE; https and loopback are taken", async () => {
    const { status, body } = await register("plain", "http://10.1.2.3:8080");
    expect(status).toBe(400);
    expect(body.error).toEqual({
      status: 400,
      reason: "invalid_request",
      message:
        'url: traffic to http://10.1.2.3:8080 would not be encrypted in transit, and backend "plain" does not allow plaintext; use https:// or set spec.tls: { mode: DISABLE } on the Backend to opt out explicitly',
    });
    const taken = ["https://10.1.2.3:8443", "http://127.0.0.5:8080", "http://localhost:8080"];
    for (const url of taken) expect({ url, status: (await register("plain", url)).status }).toEqual({ url, status: 201 });
    for (const url of taken) expect((await mesh.admin("DELETE", `/backends/plain/endpoints?url=${encodeURIComponent(url)}`)).status).toBe(200);
    // "scoped" opts out: the same plain URL registers there (the test below).
  });

  it("registered under spec.tls.mode DISABLE, is left out by the gateway once the Backend stops opting out", async () => {
    const legacy = (tls?: Record<string, unknown>) => [
      httpBackend("legacy", { endpoints: [], registration: { allowedHosts: ["10.1.2.3"] }, ...(tls && { tls }) }),
      simpleRoute("legacy", "legacy.test", "legacy"),
    ];
    const fresh = await TestGateway.start(legacy({ mode: "DISABLE" }), { isolates: 1, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      await fresh.fetch("http://legacy.test/");
      expect((await fresh.admin("POST", "/backends/legacy/endpoints", { url: "http://10.1.2.3:8080", ttlSeconds: 600 })).status).toBe(201);
      const served = async () => (await fresh.admin<{ endpoints: { id: string }[] }>("GET", "/backends/legacy")).body.endpoints.map((e) => e.id);
      await waitFor("the plaintext endpoint served", async () => (await served()).length === 1);
      expect((await fresh.admin("POST", "/config/apply", { documents: legacy() })).status).toBe(200);
      await waitFor("the plaintext endpoint left out", async () => (await served()).length === 0);
      expect((await fresh.admin<{ registered: unknown[] }>("GET", "/backends/legacy")).body.registered).toHaveLength(1);
    } finally {
      await fresh.dispose();
    }
  });
});

describe("a narrowed registration", () => {
  it("drops endpoints the Backend no longer allows from every isolate at once, not when their TTL runs out", async () => {
    const pool = (registration: Record<string, unknown>) => [httpBackend("pool", { endpoints: [], registration }), simpleRoute("pool", "pool.test", "pool")];
    const fresh = await TestGateway.start(pool({ allowedCIDRs: ["127.0.0.0/8"] }), { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      await fresh.fetch("http://pool.test/");
      expect((await fresh.admin("POST", "/backends/pool/endpoints", { url: upstream.url, ttlSeconds: 600 })).status).toBe(201);
      const servedOn = async (isolate: number) =>
        (await fresh.admin<{ endpoints: { id: string }[] }>("GET", "/backends/pool", undefined, isolate)).body.endpoints.map((e) => e.id);
      await waitFor("the registered endpoint on both isolates", async () => (await servedOn(0)).length === 1 && (await servedOn(1)).length === 1);
      expect((await fresh.admin("POST", "/config/apply", { documents: pool({ allowedHosts: ["*.internal.test"] }) })).status).toBe(200);
      await waitFor("the endpoint gone from both isolates", async () => (await servedOn(0)).length === 0 && (await servedOn(1)).length === 0);
      // Still registered (its TTL has not passed): the table leaves it out.
      expect((await fresh.admin<{ registered: unknown[] }>("GET", "/backends/pool")).body.registered).toHaveLength(1);
    } finally {
      await fresh.dispose();
    }
  });
});
