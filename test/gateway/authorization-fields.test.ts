/**
 * AuthorizationPolicy fields at the gateway, in workerd against a real upstream (the unit tests in
 * test/unit/authorization*.test.ts evaluate them in Node): `ipBlocks` / `notIpBlocks` on the client
 * address as the gateway reads it (CF-Connecting-IP: IPv4, IPv6, IPv4-mapped), the AUDIT action,
 * `notNamespaces`, `notPrincipals`, `notHosts`, `notMethods`, `notPaths`, suffix and prefix forms of
 * principals and paths, and an ALLOW in dry-run. Every 403 is `denied` (body and x-edgemesh-reason),
 * names its policy, and never reaches the upstream; every 200 reached it once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestGateway, type Outcome } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";
import { Upstream, type Received } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const HEADER = "edgemesh-workload-token";
const id = (namespace: string, service: string) => `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${service}`;
const PRODUCTPAGE = id("default", "productpage");
const REVIEWS = id("default", "reviews");
const CART = id("shop", "cart");

let origin: Upstream;
let key: TestKey;
let mesh: TestGateway;
const nowS = () => Math.floor(Date.now() / 1000);

const authz = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "AuthorizationPolicy",
  metadata: { name, namespace: "default" },
  spec,
});
const onBackend = (name: string) => ({ targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name }] });
const from = (source: Record<string, unknown>) => ({ rules: [{ from: [{ source }] }] });
const to = (operation: Record<string, unknown>) => ({ rules: [{ to: [{ operation }] }] });

/** Backends with a route `<name>.test` each (nothosts has its own route). */
const BACKENDS = [
  "ipallow", "ipmapped", "ipdeny", "ipv6any", "ipnot",
  "audit", "auditallow", "auditdeny",
  "notns", "notprin", "nothosts", "notmethods", "denynotmethods", "notpaths", "denynotpaths",
  "suffixprin", "prefixprin", "suffixpath", "prefixpath",
  "dryallow", "dryenforced",
];

beforeAll(async () => {
  origin = await Upstream.start("origin");
  key = await makeKey();
  const policies = [
    ...BACKENDS.map((name) => backend(name, [origin.url])),
    ...BACKENDS.filter((name) => name !== "nothosts").map((name) => simpleRoute(name, `${name}.test`, name)),
    route("nothosts", { hostnames: ["a.nothosts.test", "b.nothosts.test"], rules: [{ backendRefs: [{ name: "nothosts" }] }] }),
    // Client addresses.
    authz("ipallow", { ...onBackend("ipallow"), ...from({ ipBlocks: ["203.0.113.0/24", "2001:db8::/32"] }) }),
    authz("ipmapped", { ...onBackend("ipmapped"), ...from({ ipBlocks: ["::ffff:198.51.100.0/120"] }) }),
    authz("ipdeny", { ...onBackend("ipdeny"), action: "DENY", ...from({ ipBlocks: ["192.0.2.0/24", "2001:db8:bad::/48"] }) }),
    authz("ipv6any", { ...onBackend("ipv6any"), action: "DENY", ...from({ ipBlocks: ["::/0"] }) }),
    authz("ipnot", { ...onBackend("ipnot"), ...from({ notIpBlocks: ["10.0.0.0/8", "fd00::/8"] }) }),
    // AUDIT.
    authz("audit-deletes", { ...onBackend("audit"), action: "AUDIT", ...to({ methods: ["DELETE"] }) }),
    authz("audit-tagged", { ...onBackend("audit"), action: "AUDIT", rules: [{ when: [{ key: "request.headers[x-tag]", values: ["audit-me"] }] }] }),
    authz("auditallow-audit", { ...onBackend("auditallow"), action: "AUDIT", rules: [{}] }),
    authz("auditallow-allow", { ...onBackend("auditallow"), ...from({ principals: [PRODUCTPAGE] }) }),
    authz("auditdeny-audit", { ...onBackend("auditdeny"), action: "AUDIT", rules: [{}] }),
    authz("auditdeny-deny", { ...onBackend("auditdeny"), action: "DENY", ...to({ paths: ["/blocked"] }) }),
    // not* forms.
    authz("notns", { ...onBackend("notns"), ...from({ notNamespaces: ["shop"] }) }),
    authz("notprin", { ...onBackend("notprin"), ...from({ notPrincipals: [CART, "*/sa/checkout"] }) }),
    authz("nothosts", { ...onBackend("nothosts"), ...to({ notHosts: ["b.nothosts.test"] }) }),
    authz("notmethods", { ...onBackend("notmethods"), ...to({ notMethods: ["DELETE", "PATCH"] }) }),
    authz("denynotmethods", { ...onBackend("denynotmethods"), action: "DENY", ...to({ notMethods: ["GET", "HEAD"] }) }),
    authz("notpaths", { ...onBackend("notpaths"), ...to({ notPaths: ["/private", "/private/*"] }) }),
    authz("denynotpaths", { ...onBackend("denynotpaths"), action: "DENY", ...to({ notPaths: ["/public/*"] }) }),
    // Suffix and prefix forms.
    authz("suffixprin", { ...onBackend("suffixprin"), ...from({ principals: ["*/sa/reviews"] }) }),
    authz("prefixprin", { ...onBackend("prefixprin"), ...from({ principals: [`spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews-*`] }) }),
    authz("suffixpath", { ...onBackend("suffixpath"), ...to({ paths: ["*.json"] }) }),
    authz("prefixpath", { ...onBackend("prefixpath"), ...to({ paths: ["/api/*"] }) }),
    // Dry-run ALLOW: alone, and beside an enforced ALLOW.
    authz("dryallow", { ...onBackend("dryallow"), dryRun: true, ...from({ principals: [PRODUCTPAGE] }) }),
    authz("dryenforced-allow", { ...onBackend("dryenforced"), ...from({ principals: ["*"] }) }),
    authz("dryenforced-dry", { ...onBackend("dryenforced"), dryRun: true, ...from({ principals: [PRODUCTPAGE] }) }),
  ];
  mesh = await TestGateway.start(policies, {
    isolates: 1,
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk), AUTHZ_AUDIT_PER_MINUTE: "120" },
    callers: [
      { name: "productpage", props: { service: "productpage" } },
      { name: "reviews", props: { service: "reviews" } },
      { name: "cart", props: { service: "cart", namespace: "shop" } },
    ],
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await origin?.close();
});

beforeEach(() => {
  origin.received.length = 0;
});

interface Answer {
  status: number;
  /** The x-edgemesh-reason header. */
  reason: string | null;
  body: { error?: { reason: string; message: string } };
  outcome: Outcome;
  /** What the upstream received while the request was under way. */
  reached: Received[];
}

interface Call {
  /** A Worker caller's name, or a workload token's SPIFFE ID as "token:<id>"; none: anonymous. */
  as?: string;
  /** CF-Connecting-IP. */
  ip?: string;
  method?: string;
  headers?: Record<string, string>;
}

async function call(url: string, { as, ip, method, headers = {} }: Call = {}): Promise<Answer> {
  const before = origin.received.length;
  const sent: Record<string, string> = { ...headers, ...(ip !== undefined && { "cf-connecting-ip": ip }) };
  if (as?.startsWith("token:")) sent[HEADER] = await validToken(key, nowS(), { sub: as.slice(6) });
  const init = { ...(method && { method }), headers: sent };
  const response = await (as && !as.startsWith("token:") ? mesh.fetchAs(as, url, init) : mesh.fetch(url, init));
  const text = await response.text();
  const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, reason: response.headers.get("x-edgemesh-reason"), body: text.startsWith("{") ? JSON.parse(text) : {}, outcome, reached: origin.received.slice(before) };
}

/** A request over a raw connection, with the Host exactly as given. */
async function rawCall(path: string, headers: Record<string, string>): Promise<Answer> {
  const before = origin.received.length;
  const response = await mesh.raw(path, headers);
  const outcome = await mesh.outcomeOf(String(response.headers["x-request-id"]));
  const reason = response.headers["x-edgemesh-reason"];
  return { status: response.status, reason: reason === undefined ? null : String(reason), body: response.body.startsWith("{") ? JSON.parse(response.body) : {}, outcome, reached: origin.received.slice(before) };
}

const message = (policy: string, action: "ALLOW" | "DENY") =>
  `denied by AuthorizationPolicy ${policy} (action ${action}: ${action === "DENY" ? "a rule matches the request" : "no rule matches the request"})`;

/** What a test compares: the status, the reason (header and body), the message, how often the upstream was reached. */
const seen = (a: Answer) => ({ status: a.status, reason: a.reason, error: a.body.error && { reason: a.body.error.reason, message: a.body.error.message }, reached: a.reached.length });

/** 403 denied by `policy`, in the header, the body and the outcome; the upstream received nothing. */
function expectDenied(label: string, a: Answer, policy: string, action: "ALLOW" | "DENY"): void {
  expect([label, seen(a)]).toEqual([label, { status: 403, reason: "denied", error: { reason: "denied", message: message(policy, action) }, reached: 0 }]);
  expect([label, a.outcome]).toMatchObject([label, { status: 403, reason: "denied", attempts: 0, authz: { decision: "deny", policy, action } }]);
}

/** 200 from the upstream, which received this request (its request id) once. */
function expectAllowed(label: string, a: Answer): void {
  expect([label, seen(a), a.reached.map((received) => received.headers["x-request-id"])]).toEqual([
    label,
    { status: 200, reason: null, error: undefined, reached: 1 },
    [a.outcome.requestId],
  ]);
}

interface AuditRow {
  actor: string;
  action: string;
  detail: { policy: string; policyAction: string; route?: string; backend?: string; method: string; path: string; requestId: string; suppressed: number };
}

const auditRows = async () => (await mesh.admin<{ entries: AuditRow[] }>("GET", "/audit?limit=500")).body.entries;

async function auditRowOf(requestId: string): Promise<AuditRow> {
  let row: AuditRow | undefined;
  await waitFor(`the audit entry of ${requestId}`, async () => Boolean((row = (await auditRows()).find((entry) => entry.detail?.requestId === requestId))));
  return row!;
}

describe("from.source.ipBlocks and notIpBlocks, on the client address (CF-Connecting-IP)", () => {
  it("ALLOW ipBlocks: an IPv4 and an IPv6 block; an IPv4-mapped client is its IPv4 address; anything else is denied", async () => {
    for (const ip of ["203.0.113.7", "203.0.113.255", "::ffff:203.0.113.7", "::FFFF:203.0.113.7", "::ffff:cb00:7107", "0:0:0:0:0:ffff:203.0.113.7", "2001:db8::1", "2001:0DB8:ffff:0:0:0:0:1"]) expectAllowed(ip, await call("http://ipallow.test/", { ip }));
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are IPv6 addresses, not mapped ones; a value that is no address has none.
    for (const ip of ["198.51.100.7", "203.0.114.1", "::ffff:198.51.100.7", "2001:db9::1", "::203.0.113.7", "64:ff9b::203.0.113.7", "not-an-ip"]) expectDenied(ip, await call("http://ipallow.test/", { ip }), "default/ipallow", "ALLOW");
  });

  it("the address judged is the one the upstream is told in X-Forwarded-For", async () => {
    const allowed = await call("http://ipallow.test/", { ip: "2001:db8::7" });
    expectAllowed("2001:db8::7", allowed);
    expect(allowed.reached[0]!.headers["x-forwarded-for"]).toBe("2001:db8::7");
  });

  it("ALLOW ipBlocks of an IPv4-mapped block: ::ffff:198.51.100.0/120 is 198.51.100.0/24", async () => {
    for (const ip of ["198.51.100.9", "::ffff:198.51.100.9"]) expectAllowed(ip, await call("http://ipmapped.test/", { ip }));
    for (const ip of ["198.51.101.9", "::ffff:198.51.101.9", "2001:db8::1"]) expectDenied(ip, await call("http://ipmapped.test/", { ip }), "default/ipmapped", "ALLOW");
  });

  it("DENY ipBlocks: an IPv4 block denies its mapped addresses too, an IPv6 block its IPv6 ones", async () => {
    for (const ip of ["192.0.2.5", "::ffff:192.0.2.5", "2001:db8:bad::1", "2001:db8:bad:ffff::1"]) expectDenied(ip, await call("http://ipdeny.test/", { ip }), "default/ipdeny", "DENY");
    for (const ip of ["192.0.3.1", "198.51.100.1", "::ffff:192.0.3.1", "2001:db8:bad1::1"]) expectAllowed(ip, await call("http://ipdeny.test/", { ip }));
  });

  it("DENY ipBlocks ::/0 holds IPv6 clients only, not IPv4 ones nor IPv4-mapped ones", async () => {
    for (const ip of ["2001:db8::1", "::1", "fe80::1"]) expectDenied(ip, await call("http://ipv6any.test/", { ip }), "default/ipv6any", "DENY");
    for (const ip of ["203.0.113.1", "::ffff:203.0.113.1"]) expectAllowed(ip, await call("http://ipv6any.test/", { ip }));
  });

  it("ALLOW notIpBlocks: clients outside the blocks (a mapped one by its IPv4 address) and a value that is no address", async () => {
    for (const ip of ["10.1.2.3", "::ffff:10.1.2.3", "fd12:3456::1"]) expectDenied(ip, await call("http://ipnot.test/", { ip }), "default/ipnot", "ALLOW");
    // README "Matching": an absent value (no client address) satisfies a not* match.
    for (const ip of ["203.0.113.1", "::ffff:11.0.0.1", "2001:db8::1", "not-an-ip"]) expectAllowed(ip, await call("http://ipnot.test/", { ip }));
  });
});

describe("AUDIT: marks the requests it matches, allows and denies nothing", () => {
  it("a matching AUDIT lets the request through and its outcome (the access line) lists the policy; no match, no mark", async () => {
    const deleted = await call("http://audit.test/x", { method: "DELETE" });
    expectAllowed("DELETE", deleted);
    expect(deleted.outcome.authz).toEqual({ decision: "allow", audit: ["default/audit-deletes"] });
    const got = await call("http://audit.test/x");
    expectAllowed("GET", got);
    expect(got.outcome.authz).toBeUndefined();
  });

  it("an AUDIT's header condition matches when any value of a repeated header does", async () => {
    const tagged = await rawCall("/", { host: "audit.test", "x-tag": ["fine", "audit-me"] as unknown as string });
    expectAllowed("x-tag: fine, audit-me", tagged);
    expect(tagged.outcome.authz).toEqual({ decision: "allow", audit: ["default/audit-tagged"] });
    const both = await call("http://audit.test/", { method: "DELETE", headers: { "x-tag": "audit-me" } });
    expectAllowed("DELETE, x-tag: audit-me", both);
    expect(both.outcome.authz).toEqual({ decision: "allow", audit: ["default/audit-deletes", "default/audit-tagged"] });
  });

  it("an AUDIT that matches everything allows no one an ALLOW does not: the denial names the ALLOW and keeps the mark", async () => {
    const productpage = await call("http://auditallow.test/", { as: "productpage" });
    expectAllowed("productpage", productpage);
    expect(productpage.outcome.authz).toEqual({ decision: "allow", audit: ["default/auditallow-audit"] });
    for (const as of ["cart", `token:${REVIEWS}`, undefined]) {
      const result = await call("http://auditallow.test/", { as });
      expectDenied(String(as), result, "default/auditallow-allow", "ALLOW");
      expect(result.outcome.authz).toEqual({ decision: "deny", policy: "default/auditallow-allow", action: "ALLOW", audit: ["default/auditallow-audit"] });
    }
  });

  it("an AUDIT that matches everything saves nothing from a DENY", async () => {
    const blocked = await call("http://auditdeny.test/blocked");
    expectDenied("/blocked", blocked, "default/auditdeny-deny", "DENY");
    expect(blocked.outcome.authz).toEqual({ decision: "deny", policy: "default/auditdeny-deny", action: "DENY", audit: ["default/auditdeny-audit"] });
    expectAllowed("/fine", await call("http://auditdeny.test/fine"));
  });

  it("an AUDIT match is not an audit-log entry (that log takes denials and dry-run would-denies)", async () => {
    const audited = await call("http://audit.test/audited", { method: "DELETE" });
    expectAllowed("DELETE", audited);
    // A denial after it: once its entry is in, the isolate has flushed what came before.
    const denied = await call("http://auditallow.test/after-audit", { as: "cart" });
    expect(denied.status).toBe(403);
    expect(await auditRowOf(denied.outcome.requestId)).toMatchObject({ actor: CART, action: "authz.deny", detail: { policy: "default/auditallow-allow", policyAction: "ALLOW" } });
    expect((await auditRows()).filter((entry) => entry.detail?.requestId === audited.outcome.requestId)).toEqual([]);
  });
});

describe("not* forms", () => {
  it("notNamespaces: callers of other namespaces (and anonymous ones, who have none) are allowed, the namespace's are denied", async () => {
    for (const as of ["productpage", `token:${id("default", "details")}`, `token:${id("shopping", "x")}`, undefined]) expectAllowed(String(as), await call("http://notns.test/", { as }));
    for (const as of ["cart", `token:${id("shop", "checkout")}`]) expectDenied(as, await call("http://notns.test/", { as }), "default/notns", "ALLOW");
  });

  it("notPrincipals, exact and suffix: every caller but the listed ones", async () => {
    for (const as of ["productpage", `token:${id("shop", "checkout-v2")}`, undefined]) expectAllowed(String(as), await call("http://notprin.test/", { as }));
    for (const as of ["cart", `token:${CART}`, `token:${id("shop", "checkout")}`, `token:${id("default", "checkout")}`]) expectDenied(as, await call("http://notprin.test/", { as }), "default/notprin", "ALLOW");
  });

  it("notHosts: the host is judged normalized (case, trailing dot) and a pattern without a port holds on any port", async () => {
    expectAllowed("a.nothosts.test", await call("http://a.nothosts.test/"));
    expectAllowed("A.NotHosts.Test", await rawCall("/", { host: "A.NotHosts.Test" }));
    expectDenied("b.nothosts.test", await call("http://b.nothosts.test/"), "default/nothosts", "ALLOW");
    for (const host of ["B.NotHosts.Test", "b.nothosts.test.", "b.nothosts.test:8080"]) expectDenied(host, await rawCall("/", { host }), "default/nothosts", "ALLOW");
  });

  it("notMethods in an ALLOW: every method but the listed ones", async () => {
    for (const method of ["GET", "POST", "PUT"]) expectAllowed(method, await call("http://notmethods.test/", { method }));
    // (A lower-case "patch" cannot be sent here: workerd answers it 501 before any Worker runs.)
    for (const method of ["DELETE", "PATCH"]) expectDenied(method, await call("http://notmethods.test/", { method }), "default/notmethods", "ALLOW");
  });

  it("notMethods in a DENY: denies every method but the listed ones", async () => {
    for (const method of ["GET", "HEAD"]) expectAllowed(method, await call("http://denynotmethods.test/", { method }));
    for (const method of ["POST", "OPTIONS", "DELETE"]) expectDenied(method, await call("http://denynotmethods.test/", { method }), "default/denynotmethods", "DENY");
  });

  // Not /admin: that path belongs to the admin API on every host (README "Admin API").
  it("notPaths in an ALLOW: no spelling of an excluded path gets in", async () => {
    for (const path of ["/x", "/privately", "/public/private", "/privatex"]) expectAllowed(path, await call(`http://notpaths.test${path}`));
    for (const path of ["/private", "/private/", "/private/x", "/PRIVATE", "/Private/x", "//private", "/private;x=1", "/x/..;/private", "/x/%2e%2e/private", "/%70rivate"]) {
      expectDenied(path, await call(`http://notpaths.test${path}`), "default/notpaths", "ALLOW");
    }
  });

  it("notPaths in a DENY: the exception holds only for a path every reading of which is in it", async () => {
    for (const path of ["/public/x", "/public/a/b"]) expectAllowed(path, await call(`http://denynotpaths.test${path}`));
    for (const path of ["/other", "/public", "/PUBLIC/x", "/public/..;/private", "/public/x/..;/..;/private"]) {
      expectDenied(path, await call(`http://denynotpaths.test${path}`), "default/denynotpaths", "DENY");
    }
  });
});

describe("suffix and prefix forms", () => {
  it("a suffix principal (*/sa/reviews): that service account in any namespace, by binding or token", async () => {
    for (const as of ["reviews", `token:${REVIEWS}`, `token:${id("shop", "reviews")}`]) expectAllowed(as, await call("http://suffixprin.test/", { as }));
    for (const as of ["productpage", `token:${id("default", "reviews-v2")}`, `token:${id("default", "previews")}`, undefined]) {
      expectDenied(String(as), await call("http://suffixprin.test/", { as }), "default/suffixprin", "ALLOW");
    }
  });

  it("a prefix principal (.../ns/default/sa/reviews-*): the service accounts it begins, in that namespace only", async () => {
    for (const as of [`token:${id("default", "reviews-v2")}`, `token:${id("default", "reviews-v3")}`]) expectAllowed(as, await call("http://prefixprin.test/", { as }));
    for (const as of ["reviews", `token:${id("shop", "reviews-v2")}`, "productpage", undefined]) {
      expectDenied(String(as), await call("http://prefixprin.test/", { as }), "default/prefixprin", "ALLOW");
    }
  });

  it("a suffix path (*.json), case-sensitive, for every reading of the path", async () => {
    for (const path of ["/data.json", "/a/b/c.json", "/a/x/../c.json"]) expectAllowed(path, await call(`http://suffixpath.test${path}`));
    // "/secret;.json" is "/secret" to a Java origin; "/x.json;.html" does not end in .json.
    for (const path of ["/data.jsonx", "/data.JSON", "/data", "/secret;.json", "/x.json;.html"]) expectDenied(path, await call(`http://suffixpath.test${path}`), "default/suffixpath", "ALLOW");
  });

  it("a prefix path (/api/*): what is under /api/, for every reading of the path", async () => {
    for (const path of ["/api/", "/api/v1", "/api/v1/x"]) expectAllowed(path, await call(`http://prefixpath.test${path}`));
    for (const path of ["/api", "/apix", "/API/v1", "/api/../private", "/api/..;/private", "/x/api/v1"]) expectDenied(path, await call(`http://prefixpath.test${path}`), "default/prefixpath", "ALLOW");
  });
});

describe("an ALLOW in dry-run (spec.dryRun: true)", () => {
  it("denies nothing: callers it would deny get through, and their outcome records the would-be denial", async () => {
    const productpage = await call("http://dryallow.test/", { as: "productpage" });
    expectAllowed("productpage", productpage);
    expect(productpage.outcome.authz).toBeUndefined();
    for (const as of ["cart", `token:${REVIEWS}`, undefined]) {
      const result = await call("http://dryallow.test/", { as });
      expectAllowed(String(as), result);
      expect([as, result.outcome.authz]).toEqual([as, { decision: "deny", policy: "default/dryallow", action: "ALLOW", dryRun: true }]);
    }
  });

  it("audits what it would have denied as authz.dry-run, with the caller as actor", async () => {
    const cart = await call("http://dryallow.test/would-deny", { as: "cart" });
    const anonymous = await call("http://dryallow.test/would-deny-too", { method: "POST" });
    expectAllowed("cart", cart);
    expectAllowed("anonymous", anonymous);
    expect(await auditRowOf(cart.outcome.requestId)).toMatchObject({ actor: CART, action: "authz.dry-run", detail: { policy: "default/dryallow", policyAction: "ALLOW", route: "dryallow", backend: "dryallow", method: "GET", path: "/would-deny", suppressed: 0 } });
    expect(await auditRowOf(anonymous.outcome.requestId)).toMatchObject({ actor: "anonymous", action: "authz.dry-run", detail: { policy: "default/dryallow", policyAction: "ALLOW", method: "POST", path: "/would-deny-too" } });
  });

  it("beside an enforced ALLOW: only the enforced one denies, and its denial names it alone", async () => {
    const productpage = await call("http://dryenforced.test/", { as: "productpage" });
    expectAllowed("productpage", productpage);
    expect(productpage.outcome.authz).toBeUndefined();
    const cart = await call("http://dryenforced.test/", { as: "cart" });
    expectAllowed("cart", cart);
    expect(cart.outcome.authz).toEqual({ decision: "deny", policy: "default/dryenforced-dry", action: "ALLOW", dryRun: true });
    const anonymous = await call("http://dryenforced.test/");
    expectDenied("anonymous", anonymous, "default/dryenforced-allow", "ALLOW");
    expect(anonymous.outcome.authz).toEqual({ decision: "deny", policy: "default/dryenforced-allow", action: "ALLOW" });
    expect(await auditRowOf(anonymous.outcome.requestId)).toMatchObject({ actor: "anonymous", action: "authz.deny", detail: { policy: "default/dryenforced-allow", policyAction: "ALLOW" } });
  });
});
