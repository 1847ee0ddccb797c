/** The AuthorizationPolicy evaluator on its own: Istio's semantics, request principals and claims, multi-value headers, path readings. */
import { describe, expect, it } from "vitest";
import { denialMessage } from "../../workers/gateway/authz/evaluate.ts";
import { pathReadings, splitHeader } from "../../workers/gateway/authz/readings.ts";
import type { EndUser } from "../../workers/gateway/context.ts";
import { allowed, decide, request } from "./authz-call.ts";

const PRODUCTPAGE = "spiffe://mesh.test/ns/default/sa/productpage";
const CART = "spiffe://mesh.test/ns/shop/sa/cart";

describe("principals and namespaces", () => {
  it("matches exact, prefix, suffix and * (which needs a caller)", () => {
    const allow = (principals: string[]) => ({ rules: [{ from: [{ source: { principals } }] }] });
    expect(allowed(allow([PRODUCTPAGE]), request({ principal: PRODUCTPAGE }))).toBe(true);
    expect(allowed(allow([PRODUCTPAGE]), request({ principal: CART }))).toBe(false);
    expect(allowed(allow(["spiffe://mesh.test/ns/shop/*"]), request({ principal: CART }))).toBe(true);
    expect(allowed(allow(["*/sa/cart"]), request({ principal: CART }))).toBe(true);
    expect(allowed(allow(["*"]), request({ principal: CART }))).toBe(true);
    expect(allowed(allow(["*"]), request())).toBe(false);
  });

  it("not* forms hold for an anonymous caller, as in Istio", () => {
    const spec = { rules: [{ from: [{ source: { notPrincipals: [PRODUCTPAGE] } }] }] };
    expect(allowed(spec, request())).toBe(true);
    expect(allowed(spec, request({ principal: CART }))).toBe(true);
    expect(allowed(spec, request({ principal: PRODUCTPAGE }))).toBe(false);
    const ns = { rules: [{ from: [{ source: { namespaces: ["shop"], notPrincipals: ["*/sa/admin"] } }] }] };
    expect(allowed(ns, request({ principal: CART }))).toBe(true);
    expect(allowed(ns, request({ principal: "spiffe://mesh.test/ns/shop/sa/admin" }))).toBe(false);
    expect(allowed(ns, request({ principal: PRODUCTPAGE }))).toBe(false);
  });

  it("requestPrincipals and claims come from the end user's token", () => {
    const endUser: EndUser = { principal: "https://idp.test/alice", claims: { sub: "alice", groups: ["dev", "admin"], org: { team: "payments", level: 3 } } };
    const spec = (rule: Record<string, unknown>) => ({ rules: [rule] });
    expect(allowed(spec({ from: [{ source: { requestPrincipals: ["*"] } }] }), request({ endUser }))).toBe(true);
    expect(allowed(spec({ from: [{ source: { requestPrincipals: ["*"] } }] }), request())).toBe(false);
    expect(allowed(spec({ from: [{ source: { requestPrincipals: ["https://idp.test/*"] } }] }), request({ endUser }))).toBe(true);
    expect(allowed(spec({ from: [{ source: { notRequestPrincipals: ["https://idp.test/alice"] } }] }), request({ endUser }))).toBe(false);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[groups]", values: ["admin"] }] }), request({ endUser }))).toBe(true);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[groups]", notValues: ["admin"] }] }), request({ endUser }))).toBe(false);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[org][team]", values: ["pay*"] }] }), request({ endUser }))).toBe(true);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[org][level]", values: ["3"] }] }), request({ endUser }))).toBe(true);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[org]", values: ["*"] }] }), request({ endUser }))).toBe(false);
    expect(allowed(spec({ when: [{ key: "request.auth.claims[groups]", values: ["admin"] }] }), request())).toBe(false);
    expect(allowed(spec({ when: [{ key: "request.auth.principal", values: ["https://idp.test/alice"] }] }), request({ endUser }))).toBe(true);
    // A claim named like an Object.prototype property is not found on the prototype.
    expect(allowed(spec({ when: [{ key: "request.auth.claims[constructor]", values: ["*"] }] }), request({ endUser }))).toBe(false);
  });

  it("source.ip and ipBlocks read the client address", () => {
    const spec = { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8", "2001:db8::1"] } }] }] };
    expect(allowed(spec, request({ ip: "10.1.2.3" }))).toBe(true);
    expect(allowed(spec, request({ ip: "2001:db8::1" }))).toBe(true);
    expect(allowed(spec, request({ ip: "11.0.0.1" }))).toBe(false);
    expect(allowed(spec, request())).toBe(false);
    const when = { rules: [{ when: [{ key: "source.ip", notValues: ["192.168.0.0/16"] }] }] };
    expect(allowed(when, request({ ip: "192.168.1.1" }))).toBe(false);
    expect(allowed(when, request({ ip: "10.0.0.1" }))).toBe(true);
  });
});

describe("semantics", () => {
  it("an ALLOW without rules allows nothing; [{}] allows everything; a DENY without rules denies nothing", () => {
    expect(decide([{}], request({ principal: PRODUCTPAGE }))).toEqual({ decision: "deny", policy: "default/p0", action: "ALLOW" });
    expect(decide([{ rules: [{}] }], request())).toEqual({ decision: "allow" });
    expect(decide([{ action: "DENY" }], request())).toEqual({ decision: "allow" });
  });

  it("DENY beats ALLOW; any matching ALLOW allows; the message names the policy", () => {
    const denyCart = { action: "DENY", rules: [{ from: [{ source: { principals: [CART] } }] }] };
    const decision = decide([{ rules: [{}] }, denyCart], request({ principal: CART }));
    expect(decision).toEqual({ decision: "deny", policy: "default/p1", action: "DENY" });
    expect(denialMessage(decision)).toBe("denied by AuthorizationPolicy default/p1 (action DENY: a rule matches the request)");
    expect(decide([{}, { rules: [{ from: [{ source: { principals: [CART] } }] }] }], request({ principal: CART })).decision).toBe("allow");
    expect(denialMessage(decide([{}, {}], request()))).toBe("denied by AuthorizationPolicy default/p0, default/p1 (action ALLOW: no rule matches the request)");
  });

  it("a rule needs all of from, to and when; a list any entry; an entry all its fields", () => {
    const spec = {
      rules: [{
        from: [{ source: { principals: [CART] } }, { source: { namespaces: ["default"] } }],
        to: [{ operation: { methods: ["GET"], paths: ["/read/*"] } }],
        when: [{ key: "request.headers[x-env]", values: ["prod"] }],
      }],
    };
    const ok = { principal: PRODUCTPAGE, path: "/read/1", headerList: [["x-env", "prod"]] as [string, string][] };
    expect(allowed(spec, request(ok))).toBe(true);
    expect(allowed(spec, request({ ...ok, method: "POST" }))).toBe(false);
    expect(allowed(spec, request({ ...ok, path: "/write/1" }))).toBe(false);
    expect(allowed(spec, request({ ...ok, headerList: [] }))).toBe(false);
    expect(allowed(spec, request({ ...ok, principal: "spiffe://mesh.test/ns/other/sa/x" }))).toBe(false);
  });

  it("dry-run policies are evaluated apart and never deny; AUDIT marks and changes nothing", () => {
    const dryDeny = { action: "DENY", dryRun: true, rules: [{ to: [{ operation: { paths: ["/x"] } }] }] };
    expect(decide([dryDeny], request({ path: "/x" }))).toEqual({ decision: "deny", policy: "default/p0", action: "DENY", dryRun: true });
    expect(decide([dryDeny], request({ path: "/y" }))).toEqual({ decision: "allow" });
    // A dry-run ALLOW that would not allow: reported, not enforced; an enforced ALLOW still decides.
    expect(decide([{ dryRun: true }], request())).toEqual({ decision: "deny", policy: "default/p0", action: "ALLOW", dryRun: true });
    expect(decide([{ rules: [{}] }, { dryRun: true, rules: [{ from: [{ source: { principals: ["*"] } }] }] }], request()).dryRun).toBe(true);
    // An enforced denial wins over what dry-run policies say.
    expect(decide([{}, dryDeny], request({ path: "/x" }))).toEqual({ decision: "deny", policy: "default/p0", action: "ALLOW" });
    const audit = { action: "AUDIT", rules: [{ to: [{ operation: { methods: ["DELETE"] } }] }] };
    expect(decide([audit], request({ method: "DELETE" }))).toEqual({ decision: "allow", audit: ["default/p0"] });
    expect(decide([audit, {}], request({ method: "DELETE" }))).toMatchObject({ decision: "deny", audit: ["default/p0"] });
  });
});

describe("operations", () => {
  it("hosts are case-insensitive and match with or without a port", () => {
    const spec = { rules: [{ to: [{ operation: { hosts: ["svc.test", "*.shop.test", "api.test:8443"] } }] }] };
    expect(allowed(spec, request({ host: "svc.test:8080" }))).toBe(true);
    expect(allowed(spec, request({ host: "a.shop.test" }))).toBe(true);
    expect(allowed(spec, request({ host: "api.test:8443" }))).toBe(true);
    expect(allowed(spec, request({ host: "api.test" }))).toBe(false);
    expect(allowed({ rules: [{ to: [{ operation: { notHosts: ["svc.test"] } }] }] }, request())).toBe(false);
  });

  it("methods match case-insensitively (fetch leaves 'patch' as sent)", () => {
    const deny = { action: "DENY", rules: [{ to: [{ operation: { methods: ["PATCH"] } }] }] };
    expect(decide([deny], request({ method: "PATCH" })).decision).toBe("deny");
    expect(allowed({ rules: [{ to: [{ operation: { notMethods: ["DELETE", "PATCH"] } }] }] }, request({ method: "GET" }))).toBe(true);
  });

  it("a DENY path matches any reading (merged slashes, folded case); an ALLOW's not-path must hold for all", () => {
    expect(pathReadings("/a//B")).toEqual({ sent: ["/a//B", "/a/B"], folded: ["/a//b", "/a/b"] });
    const plain = pathReadings("/plain");
    expect(plain).toEqual({ sent: ["/plain"], folded: ["/plain"] });
    expect(plain.folded).toBe(plain.sent);
    const deny = { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin", "/admin/*"] } }] }] };
    for (const path of ["/admin", "//admin", "/ADMIN/x", "/admin//x", "/Admin"]) expect([path, decide([deny], request({ path })).decision]).toEqual([path, "deny"]);
    expect(decide([deny], request({ path: "/administrator" })).decision).toBe("allow");
    const allowNotAdmin = { rules: [{ to: [{ operation: { notPaths: ["/admin/*"] } }] }] };
    for (const path of ["/admin/x", "//admin/x", "/ADMIN/x"]) expect([path, allowed(allowNotAdmin, request({ path }))]).toEqual([path, false]);
    expect(allowed(allowNotAdmin, request({ path: "/public" }))).toBe(true);
    const allowPublic = { rules: [{ to: [{ operation: { paths: ["/public/*"] } }] }] };
    expect(allowed(allowPublic, request({ path: "/public/a" }))).toBe(true);
    expect(allowed(allowPublic, request({ path: "//public/a" }))).toBe(false);
  });
});

describe("multi-value headers", () => {
  it("are split at commas; an absent header is one empty value", () => {
    const headers = new Headers([["x", "a"], ["x", " b ,c"]]);
    expect(headers.get("x")).toBe("a, b ,c");
    expect(splitHeader(headers.get("x"))).toEqual(["a", "b", "c"]);
    expect(splitHeader(headers.get("y"))).toEqual([""]);
  });

  it("an ALLOW needs every value to hold, a DENY any one", () => {
    const allow = { rules: [{ when: [{ key: "request.headers[x-role]", values: ["reader"] }] }] };
    expect(allowed(allow, request({ headerList: [["x-role", "reader"]] }))).toBe(true);
    expect(allowed(allow, request({ headerList: [["x-role", "reader"], ["x-role", "admin"]] }))).toBe(false);
    expect(allowed(allow, request({ headerList: [["x-role", "reader, admin"]] }))).toBe(false);
    expect(allowed(allow, request())).toBe(false);
    const deny = { action: "DENY", rules: [{ when: [{ key: "request.headers[x-role]", values: ["admin"] }] }] };
    expect(decide([deny], request({ headerList: [["x-role", "reader"], ["x-role", "admin"]] })).decision).toBe("deny");
    expect(decide([deny], request({ headerList: [["x-role", "admin"], ["x-role", "admin"]] })).decision).toBe("deny");
    expect(decide([deny], request({ headerList: [["x-role", "reader"]] })).decision).toBe("allow");
    // "Deny unless the header is exactly the secret": a missing header, or one sent twice, is denied.
    const denyUnless = { action: "DENY", rules: [{ when: [{ key: "request.headers[x-key]", notValues: ["s3cret"] }] }] };
    expect(decide([denyUnless], request()).decision).toBe("deny");
    expect(decide([denyUnless], request({ headerList: [["x-key", "s3cret"], ["x-key", "other"]] })).decision).toBe("deny");
    expect(decide([denyUnless], request({ headerList: [["x-key", "s3cret"]] })).decision).toBe("allow");
    // * is any non-empty value: an empty header does not satisfy it.
    const present = { rules: [{ when: [{ key: "request.headers[x-key]", values: ["*"] }] }] };
    expect(allowed(present, request({ headerList: [["x-key", ""]] }))).toBe(false);
    expect(allowed(present, request({ headerList: [["x-key", "v"]] }))).toBe(true);
  });
});
