/**
 * PeerAuthentication scopes in workerd, against real upstreams: a namespace-wide policy covers every
 * Backend of its namespace and no other; a mesh-wide one (namespace "edgemesh") covers all; the most
 * specific wins, as in Istio (the Backend's own spec.peerAuthentication, then a policy naming it, then
 * its namespace's, then the mesh's). Resolved when the table is compiled: the request path only reads
 * each backend's effective mode.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { route } from "../support/policies.ts";
import { makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";

const HEADER = "edgemesh-workload-token";

const backendIn = (namespace: string, name: string, url: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "Backend",
  metadata: { name, namespace },
  spec: { endpoints: [{ url }], ...spec },
});

const peerAuthentication = (namespace: string, name: string, mode: string, targets?: string[]) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "PeerAuthentication",
  metadata: { name, namespace },
  spec: { mode, ...(targets && { targetRefs: targets.map((target) => ({ group: "edgemesh.dev", kind: "Backend", name: target })) }) },
});

/** A route in the default namespace to `namespace/name`, on host `<name>.<namespace>.test`. */
const routeTo = (namespace: string, name: string) =>
  route(`${namespace}-${name}`, { hostnames: [`${name}.${namespace}.test`], rules: [{ backendRefs: [{ name, namespace }] }] });

let upstream: Upstream;
let key: TestKey;
const nowS = () => Math.floor(Date.now() / 1000);

async function statusOf(mesh: TestGateway, host: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await mesh.fetch(`http://${host}/`, { headers });
  await response.arrayBuffer();
  return response.status;
}

/** Each host's status for an anonymous caller, as one object, so a failure shows them all. */
async function anonymous(mesh: TestGateway, hosts: string[]): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  for (const host of hosts) statuses[host] = await statusOf(mesh, host);
  return statuses;
}

const start = (policies: unknown[]) =>
  TestGateway.start(policies, { vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk) } });

beforeAll(async () => {
  upstream = await Upstream.start("origin");
  key = await makeKey();
});

afterAll(async () => {
  await upstream?.close();
});

describe("a namespace-wide PeerAuthentication", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await start([
      backendIn("shop", "cart", upstream.url),
      backendIn("shop", "checkout", upstream.url),
      backendIn("shop", "catalog", upstream.url),
      backendIn("default", "cart", upstream.url),
      peerAuthentication("shop", "shop-strict", "STRICT"),
      peerAuthentication("shop", "catalog-open", "PERMISSIVE", ["catalog"]),
      ...["cart", "checkout", "catalog"].map((name) => routeTo("shop", name)),
      routeTo("default", "cart"),
    ]);
  });
  afterAll(async () => {
    await mesh?.dispose();
  });

  it("refuses an anonymous caller for every Backend of its namespace, and not another namespace's", async () => {
    const before = upstream.received.length;
    expect(await anonymous(mesh, ["cart.shop.test", "checkout.shop.test", "cart.default.test"])).toEqual({
      "cart.shop.test": 401,
      "checkout.shop.test": 401,
      "cart.default.test": 200,
    });
    expect(upstream.received.length).toBe(before + 1);
  });

  it("lets a caller with a verified token in", async () => {
    expect(await statusOf(mesh, "cart.shop.test", { [HEADER]: await validToken(key, nowS()) })).toBe(200);
  });

  it("gives way to a policy that names the Backend", async () => {
    expect(await anonymous(mesh, ["catalog.shop.test"])).toEqual({ "catalog.shop.test": 200 });
    expect(await statusOf(mesh, "catalog.shop.test", { [HEADER]: "not-a-token" })).toBe(401);
  });
});

describe("a mesh-wide PeerAuthentication (namespace edgemesh)", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await start([
      backendIn("default", "details", upstream.url),
      backendIn("shop", "cart", upstream.url),
      backendIn("default", "legacy", upstream.url, { peerAuthentication: { mode: "DISABLE" } }),
      backendIn("lab", "probe", upstream.url),
      backendIn("lab", "sensor", upstream.url),
      peerAuthentication("edgemesh", "mesh-strict", "STRICT"),
      peerAuthentication("lab", "lab-permissive", "PERMISSIVE"),
      peerAuthentication("lab", "sensor-strict", "STRICT", ["sensor"]),
      routeTo("default", "details"),
      routeTo("shop", "cart"),
      routeTo("default", "legacy"),
      routeTo("lab", "probe"),
      routeTo("lab", "sensor"),
    ]);
  });
  afterAll(async () => {
    await mesh?.dispose();
  });

  it("refuses an anonymous caller in every namespace without a policy of its own", async () => {
    expect(await anonymous(mesh, ["details.default.test", "cart.shop.test"])).toEqual({ "details.default.test": 401, "cart.shop.test": 401 });
    expect(await statusOf(mesh, "details.default.test", { [HEADER]: await validToken(key, nowS()) })).toBe(200);
  });

  it("gives way to a Backend's own spec.peerAuthentication: DISABLE beats the mesh's STRICT", async () => {
    expect(await anonymous(mesh, ["legacy.default.test"])).toEqual({ "legacy.default.test": 200 });
    // DISABLE verifies nothing: even a malformed token is not looked at.
    expect(await statusOf(mesh, "legacy.default.test", { [HEADER]: "not-a-token" })).toBe(200);
  });

  it("gives way to a namespace's policy, which gives way to one naming the Backend", async () => {
    expect(await anonymous(mesh, ["probe.lab.test", "sensor.lab.test"])).toEqual({ "probe.lab.test": 200, "sensor.lab.test": 401 });
  });
});

describe("a rule that splits over backends of different modes", () => {
  let mesh: TestGateway;
  beforeAll(async () => {
    mesh = await start([
      backendIn("default", "open", upstream.url, { peerAuthentication: { mode: "DISABLE" } }),
      backendIn("default", "strict", upstream.url, { peerAuthentication: { mode: "STRICT" } }),
      // 99 in 100 requests draw the DISABLE backend: the rule is STRICT all the same.
      route("split", { hostnames: ["split.test"], rules: [{ backendRefs: [{ name: "open", weight: 99 }, { name: "strict", weight: 1 }] }] }),
      // Weight 0 sends nothing, so the STRICT backend does not make this rule strict.
      route("drained", { hostnames: ["drained.test"], rules: [{ backendRefs: [{ name: "open", weight: 1 }, { name: "strict", weight: 0 }] }] }),
      route("moved", { hostnames: ["moved.test"], rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { hostname: "split.test", statusCode: 301 } }] }] }),
    ]);
  });
  afterAll(async () => {
    await mesh?.dispose();
  });

  it("takes the strictest mode among them, whatever the weighted draw picks", async () => {
    const before = upstream.received.length;
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) statuses.add(await statusOf(mesh, "split.test"));
    expect([...statuses]).toEqual([401]);
    expect(upstream.received.length).toBe(before);
    expect(await statusOf(mesh, "split.test", { [HEADER]: await validToken(key, nowS()) })).toBe(200);
  });

  it("counts only backends with a weight, and a redirect is PERMISSIVE", async () => {
    expect(await anonymous(mesh, ["drained.test", "moved.test"])).toEqual({ "drained.test": 200, "moved.test": 301 });
    // PERMISSIVE still checks a token that is sent; DISABLE would not have.
    expect(await statusOf(mesh, "moved.test", { [HEADER]: "not-a-token" })).toBe(401);
  });
});
