/**
 * AuthorizationPolicy at the gateway, against a real upstream: principals (Worker callers by their
 * binding, HTTP callers by workload token), namespaces, not* forms, DENY over ALLOW, default deny,
 * operations and conditions on the request as the upstream sees it (normalized, rewritten), bypass
 * attempts through path spellings and repeated headers, scopes (route, backend, namespace, mesh),
 * dry-run, and the audit log of denials with its flood bound. A denied request never reaches the upstream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestGateway, type Outcome } from "../support/gateway.ts";
import { backend, route, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const HEADER = "edgemesh-workload-token";
const PRODUCTPAGE = `spiffe://${TRUST_DOMAIN}/ns/default/sa/productpage`;
const CART = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/cart`;
const CHECKOUT = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`;
const FLOOD = 40;

let origin: Upstream;
let shadow: Upstream;
let key: TestKey;
let mesh: TestGateway;
const nowS = () => Math.floor(Date.now() / 1000);

const authz = (name: string, spec: Record<string, unknown>, namespace = "default") => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "AuthorizationPolicy",
  metadata: { name, namespace },
  spec,
});
const onBackend = (name: string) => ({ targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name }] });
const from = (source: Record<string, unknown>) => ({ rules: [{ from: [{ source }] }] });
const inNamespace = <T extends { metadata: Record<string, unknown> }>(namespace: string, document: T): T => ({ ...document, metadata: { ...document.metadata, namespace } });

beforeAll(async () => {
  [origin, shadow] = await Promise.all([Upstream.start("origin"), Upstream.start("shadow")]);
  key = await makeKey();
  const names = ["limited", "exact", "prefix", "any", "ns", "notprin", "denyallow", "ops", "hosts", "ports", "headers", "dryrun", "shared", "rewrite", "flood"];
  const policies = [
    ...names.map((name) => backend(name, [origin.url])),
    ...names.filter((name) => !["hosts", "shared", "rewrite"].includes(name)).map((name) => simpleRoute(name, `${name}.test`, name)),
    route("hosts", { hostnames: ["a.hosts.test", "b.hosts.test"], rules: [{ backendRefs: [{ name: "hosts" }] }] }),
    simpleRoute("open", "open.test", "shared"),
    backend("shadow", [shadow.url]),
    route("mirrored", { hostnames: ["mirrored.test"], rules: [{ filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "shadow" }, percent: 100 } }], backendRefs: [{ name: "shared" }] }] }),
    authz("shadow", { ...onBackend("shadow"), ...from({ principals: [PRODUCTPAGE] }) }),
    simpleRoute("guarded", "guarded.test", "shared"),
    route("rewrite", {
      hostnames: ["rewrite.test"],
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/api" } }], filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/internal" } } }], backendRefs: [{ name: "rewrite" }] },
        { backendRefs: [{ name: "rewrite" }] },
      ],
    }),
    authz("exact", { ...onBackend("exact"), ...from({ principals: [PRODUCTPAGE] }) }),
    authz("limited", { ...onBackend("limited"), ...from({ principals: [PRODUCTPAGE] }) }),
    trafficPolicy("limited", { kind: "Backend", name: "limited" }, { rateLimit: { local: { rules: [{ limit: { requests: 2, unit: "Minute" } }] } } }),
    authz("prefix", { ...onBackend("prefix"), ...from({ principals: [`spiffe://${TRUST_DOMAIN}/ns/shop/*`] }) }),
    authz("any", { ...onBackend("any"), ...from({ principals: ["*"] }) }),
    authz("ns", { ...onBackend("ns"), ...from({ namespaces: ["shop"] }) }),
    authz("notprin", { ...onBackend("notprin"), ...from({ notPrincipals: [PRODUCTPAGE] }) }),
    authz("denyallow-allow", { ...onBackend("denyallow"), ...from({ principals: ["*"] }) }),
    authz("denyallow-deny", { ...onBackend("denyallow"), action: "DENY", ...from({ principals: [PRODUCTPAGE] }) }),
    authz("ops-allow", { ...onBackend("ops"), rules: [{ to: [{ operation: { methods: ["GET"], paths: ["/public/*", "/exact"] } }] }] }),
    authz("ops-deny", { ...onBackend("ops"), action: "DENY", rules: [{ to: [{ operation: { paths: ["/public/admin", "/public/admin/*"] } }] }] }),
    authz("hosts", { ...onBackend("hosts"), rules: [{ to: [{ operation: { hosts: ["a.hosts.test"] } }] }] }),
    authz("ports", { ...onBackend("ports"), action: "DENY", rules: [{ to: [{ operation: { hosts: ["ports.test:8080"] } }] }, { to: [{ operation: { hosts: ["ports.test:80"], paths: ["/default-port"] } }] }] }),
    authz("headers-allow", { ...onBackend("headers"), rules: [{ when: [{ key: "request.headers[x-team]", values: ["blue"] }] }] }),
    authz("headers-deny", { ...onBackend("headers"), action: "DENY", rules: [{ when: [{ key: "request.headers[x-block]", values: ["yes"] }] }] }),
    authz("dryrun", { ...onBackend("dryrun"), action: "DENY", dryRun: true, rules: [{ to: [{ operation: { paths: ["/would-deny"] } }] }] }),
    authz("guarded", { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "guarded" }], action: "DENY", rules: [{}] }),
    authz("rewrite", { ...onBackend("rewrite"), action: "DENY", rules: [{ to: [{ operation: { paths: ["/internal/*"] } }] }] }),
    authz("flood", onBackend("flood")),
    // Namespace-wide: an explicit default deny for namespace "locked", and one exception.
    inNamespace("locked", backend("a", [origin.url])),
    inNamespace("locked", backend("b", [origin.url])),
    inNamespace("locked", simpleRoute("a", "a.locked.test", "a")),
    inNamespace("locked", simpleRoute("b", "b.locked.test", "b")),
    authz("default-deny", {}, "locked"),
    authz("allow-cart", { ...onBackend("b"), ...from({ principals: [CART] }) }, "locked"),
    // Mesh-wide, from the root namespace.
    authz("mesh-deny", { action: "DENY", rules: [{ when: [{ key: "request.headers[x-mesh-deny]", values: ["yes"] }] }] }, "edgemesh"),
  ];
  mesh = await TestGateway.start(policies, {
    isolates: 1,
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk), AUTHZ_AUDIT_PER_MINUTE: "120" },
    callers: [
      { name: "productpage", props: { service: "productpage" } },
      { name: "cart", props: { service: "cart", namespace: "shop" } },
    ],
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([origin, shadow].map((upstream) => upstream?.close()));
});

beforeEach(() => {
  origin.received.length = 0;
});

interface Answer {
  status: number;
  body: { error?: { reason: string; message: string } };
  outcome: Outcome;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : {}, outcome };
}

/** A request as `who`: a Worker caller's name, a workload token's SPIFFE ID ("token:<id>"), or undefined (anonymous). */
async function call(who: string | undefined, url: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Answer> {
  if (who?.startsWith("token:")) {
    const token = await validToken(key, nowS(), { sub: who.slice(6) });
    return answer(await mesh.fetch(url, { ...init, headers: { ...init.headers, [HEADER]: token } }));
  }
  return answer(await (who ? mesh.fetchAs(who, url, init) : mesh.fetch(url, init)));
}

const statusOf = async (who: string | undefined, url: string, init?: RequestInit & { headers?: Record<string, string> }) => (await call(who, url, init)).status;

const denied = (policy: string, action: "ALLOW" | "DENY") => ({
  status: 403,
  error: { reason: "denied", message: `denied by AuthorizationPolicy ${policy} (action ${action}: ${action === "DENY" ? "a rule matches the request" : "no rule matches the request"})` },
});

const summary = (a: Answer) => ({ status: a.status, error: a.body.error && { reason: a.body.error.reason, message: a.body.error.message } });

describe("who may call", () => {
  it("ALLOW by exact principal: the 403 names the policy, the outcome records it, the upstream sees nothing", async () => {
    expect(await statusOf("productpage", "http://exact.test/")).toBe(200);
    origin.received.length = 0;
    const cart = await call("cart", "http://exact.test/");
    expect(summary(cart)).toEqual(denied("default/exact", "ALLOW"));
    expect(cart.outcome).toMatchObject({ status: 403, reason: "denied", authz: { decision: "deny", policy: "default/exact", action: "ALLOW" }, source: { id: CART, via: "binding" } });
    expect(summary(await call(undefined, "http://exact.test/"))).toEqual(denied("default/exact", "ALLOW"));
    expect(summary(await call(`token:${CHECKOUT}`, "http://exact.test/"))).toEqual(denied("default/exact", "ALLOW"));
    expect(origin.received).toHaveLength(0);
    expect(summary(await call(`token:${PRODUCTPAGE}`, "http://exact.test/")).status).toBe(200);
  });

  it("prefix principals, * (an authenticated caller), namespaces and notPrincipals", async () => {
    expect([await statusOf("cart", "http://prefix.test/"), await statusOf(`token:${CHECKOUT}`, "http://prefix.test/"), await statusOf("productpage", "http://prefix.test/")]).toEqual([200, 200, 403]);
    expect([await statusOf("cart", "http://any.test/"), await statusOf(`token:${CHECKOUT}`, "http://any.test/"), await statusOf(undefined, "http://any.test/")]).toEqual([200, 200, 403]);
    expect([await statusOf("cart", "http://ns.test/"), await statusOf(`token:${CHECKOUT}`, "http://ns.test/"), await statusOf("productpage", "http://ns.test/"), await statusOf(undefined, "http://ns.test/")]).toEqual([200, 200, 403, 403]);
    expect([await statusOf(undefined, "http://notprin.test/"), await statusOf("cart", "http://notprin.test/"), await statusOf("productpage", "http://notprin.test/")]).toEqual([200, 200, 403]);
  });

  it("a denied request spends no rate limit: authorization comes first", async () => {
    for (let i = 0; i < 5; i++) expect(await statusOf("cart", "http://limited.test/")).toBe(403);
    expect([await statusOf("productpage", "http://limited.test/"), await statusOf("productpage", "http://limited.test/"), await statusOf("productpage", "http://limited.test/")]).toEqual([200, 200, 429]);
  });

  it("DENY beats ALLOW", async () => {
    expect(await statusOf("cart", "http://denyallow.test/")).toBe(200);
    origin.received.length = 0;
    expect(summary(await call("productpage", "http://denyallow.test/"))).toEqual(denied("default/denyallow-deny", "DENY"));
    expect(origin.received).toHaveLength(0);
  });
});

describe("what may be called: the request as the upstream sees it", () => {
  it("methods and paths", async () => {
    expect(await statusOf(undefined, "http://ops.test/public/x")).toBe(200);
    expect(await statusOf(undefined, "http://ops.test/exact")).toBe(200);
    expect(summary(await call(undefined, "http://ops.test/public/x", { method: "POST", body: "x" }))).toEqual(denied("default/ops-allow", "ALLOW"));
    expect(await statusOf(undefined, "http://ops.test/exact/")).toBe(403);
    expect(await statusOf(undefined, "http://ops.test/other")).toBe(403);
  });

  it("path spellings cannot get around a DENY: every one is judged as the upstream would read it", async () => {
    const spellings = ["/public/admin", "//public/admin", "/public//admin/x", "/public/./admin", "/public/x/../admin", "/public/x/%2e%2e/admin", "/public/%2E%2E/public/admin", "/public/%61dmin", "/PUBLIC/ADMIN", "/public/Admin/x", "/public/admin;x=1", "/public/admin;/x", "/public/x/..;/admin", "/public/x/%2e%2e;/admin"];
    for (const path of spellings) {
      const result = await call(undefined, `http://ops.test${path}`);
      expect([path, summary(result)]).toEqual([path, denied("default/ops-deny", "DENY")]);
    }
    const slash = await call(undefined, "http://ops.test/public%2Fadmin");
    expect([slash.status, slash.body.error?.reason]).toEqual([400, "invalid_request"]);
    expect(origin.received).toHaveLength(0);
  });

  it("hosts, case-insensitively", async () => {
    expect(await statusOf(undefined, "http://a.hosts.test/")).toBe(200);
    const upper = await mesh.raw("/", { host: "A.Hosts.Test" });
    expect(upper.status).toBe(200);
    expect(summary(await call(undefined, "http://b.hosts.test/"))).toEqual(denied("default/hosts", "ALLOW"));
  });

  it("a host with a port is judged normalized: no trailing dot, the scheme's default port made explicit", async () => {
    for (const host of ["ports.test:8080", "PORTS.test.:8080"]) expect([host, (await mesh.raw("/", { host })).status]).toEqual([host, 403]);
    expect((await mesh.raw("/", { host: "ports.test:8081" })).status).toBe(200);
    // Plain HTTP: no port is port 80.
    for (const host of ["ports.test", "ports.test.", "ports.test:80"]) expect([host, (await mesh.raw("/default-port", { host })).status]).toEqual([host, 403]);
    expect((await mesh.raw("/default-port", { host: "ports.test:8081" })).status).toBe(200);
  });

  it("the path after URLRewrite is the one judged", async () => {
    expect(summary(await call(undefined, "http://rewrite.test/api/secret"))).toEqual(denied("default/rewrite", "DENY"));
    expect(await statusOf(undefined, "http://rewrite.test/internal-docs")).toBe(200);
    expect(origin.received.map((received) => received.url)).toEqual(["/internal-docs"]);
  });

  it("headers: an ALLOW holds for every value of a repeated header, a DENY for any", async () => {
    expect(await statusOf(undefined, "http://headers.test/", { headers: { "x-team": "blue" } })).toBe(200);
    expect(await statusOf(undefined, "http://headers.test/", { headers: { "x-team": "red" } })).toBe(403);
    expect(await statusOf(undefined, "http://headers.test/")).toBe(403);
    origin.received.length = 0;
    const twice = await mesh.raw("/", { host: "headers.test", "x-team": ["blue", "red"] as unknown as string });
    expect([twice.status, JSON.parse(twice.body).error.message]).toEqual([403, denied("default/headers-allow", "ALLOW").error.message]);
    expect((await mesh.raw("/", { host: "headers.test", "x-team": "blue, red" })).status).toBe(403);
    const blocked = await mesh.raw("/", { host: "headers.test", "x-team": "blue", "x-block": ["no", "yes"] as unknown as string });
    expect([blocked.status, JSON.parse(blocked.body).error.message]).toEqual([403, denied("default/headers-deny", "DENY").error.message]);
    expect(origin.received).toHaveLength(0);
    expect((await mesh.raw("/", { host: "headers.test", "x-team": "blue", "x-block": "no" })).status).toBe(200);
  });
});

describe("scopes", () => {
  it("an HTTPRoute target applies to that route's calls only", async () => {
    expect(await statusOf(undefined, "http://open.test/")).toBe(200);
    expect(summary(await call(undefined, "http://guarded.test/"))).toEqual(denied("default/guarded", "DENY"));
  });

  it("a mirrored copy goes only to a mirror backend the caller may call", async () => {
    shadow.received.length = 0;
    const anonymous = await call(undefined, "http://mirrored.test/");
    const productpage = await call("productpage", "http://mirrored.test/");
    expect([anonymous.status, productpage.status]).toEqual([200, 200]);
    await waitFor("the allowed copy", () => shadow.received.length > 0);
    // The anonymous request's copy, had it been sent, went out first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(shadow.received.map((received) => received.headers["x-request-id"])).toEqual([productpage.outcome.requestId]);
  });

  it("namespace-wide: spec {} in a namespace denies every call to its Backends but those another ALLOW lets in", async () => {
    for (const who of [undefined, "cart", "productpage"]) expect(summary(await call(who, "http://a.locked.test/"))).toEqual(denied("locked/default-deny", "ALLOW"));
    expect(await statusOf("cart", "http://b.locked.test/")).toBe(200);
    expect(summary(await call("productpage", "http://b.locked.test/"))).toEqual(denied("locked/default-deny, locked/allow-cart", "ALLOW"));
    // Backends of other namespaces are not in its scope.
    expect(await statusOf(undefined, "http://open.test/")).toBe(200);
  });

  it("mesh-wide, from the root namespace edgemesh", async () => {
    expect(summary(await call("productpage", "http://exact.test/", { headers: { "x-mesh-deny": "yes" } }))).toEqual(denied("edgemesh/mesh-deny", "DENY"));
    expect(summary(await call(undefined, "http://b.locked.test/", { headers: { "x-mesh-deny": "yes" } }))).toEqual(denied("edgemesh/mesh-deny", "DENY"));
    expect(await statusOf(undefined, "http://open.test/", { headers: { "x-mesh-deny": "no" } })).toBe(200);
  });
});

interface AuditRow {
  actor: string;
  action: string;
  detail: { policy: string; policyAction: string; route?: string; backend?: string; method: string; path: string; requestId: string; suppressed: number };
}

const auditRows = async () => (await mesh.admin<{ entries: AuditRow[] }>("GET", "/audit?limit=500")).body.entries;

describe("dry-run and the audit log", () => {
  it("a dry-run DENY lets the request through, and records and audits what it would have denied", async () => {
    const result = await call("cart", "http://dryrun.test/would-deny");
    expect(result.status).toBe(200);
    expect(origin.received).toHaveLength(1);
    expect(result.outcome.authz).toEqual({ decision: "deny", policy: "default/dryrun", action: "DENY", dryRun: true });
    // A plain allow is not written in the access line (sinks/access-log.ts).
    expect((await call("cart", "http://dryrun.test/fine")).outcome.authz).toBeUndefined();
    let row: AuditRow | undefined;
    await waitFor("the dry-run entry", async () => Boolean((row = (await auditRows()).find((entry) => entry.detail?.requestId === result.outcome.requestId))));
    expect(row).toMatchObject({ actor: CART, action: "authz.dry-run", detail: { policy: "default/dryrun", policyAction: "DENY", route: "dryrun", backend: "dryrun", method: "GET", path: "/would-deny", suppressed: 0 } });
  });

  it("a denial is in GET /admin/audit with the caller as actor", async () => {
    const result = await call("cart", "http://exact.test/audited");
    let row: AuditRow | undefined;
    await waitFor("the denial's entry", async () => Boolean((row = (await auditRows()).find((entry) => entry.detail?.requestId === result.outcome.requestId))));
    expect(row).toMatchObject({ actor: CART, action: "authz.deny", detail: { policy: "default/exact", policyAction: "ALLOW", route: "exact", backend: "exact", path: "/audited" } });
  });

  it("a flood of denials makes a bounded number of entries, whose suppressed counts account for every one", async () => {
    for (let i = 0; i < FLOOD; i++) expect(await statusOf(undefined, `http://flood.test/${i}`)).toBe(403);
    const flood = async () => (await auditRows()).filter((entry) => entry.detail?.policy === "default/flood");
    await waitFor("every flood denial accounted for", async () => (await flood()).reduce((sum, entry) => sum + 1 + entry.detail.suppressed, 0) === FLOOD, { timeoutMs: 15_000, intervalMs: 200 });
    const rows = await flood();
    expect(rows.length).toBeLessThan(FLOOD / 2);
    expect(rows.some((entry) => entry.detail.suppressed > 0)).toBe(true);
    expect(rows.every((entry) => entry.actor === "anonymous" && entry.action === "authz.deny")).toBe(true);
  });
});
