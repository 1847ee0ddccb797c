/**
 * The evaluator against the spellings that got around it: hosts with ports (trailing dot, default
 * ports, IPv6 literals), IPv4-mapped IPv6 addresses, case folding with upper-case patterns, Java path
 * parameters, and the cost of a hostile header against a large policy.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClientSelector, IpBlock } from "../../policies/schema/index.ts";
import { MAX_HEADER_VALUES, pathReadings, splitHeader, TOO_MANY } from "../../workers/gateway/authz/readings.ts";
import { clientAddress, compileCidr, compileIpBlocks } from "../../workers/gateway/ratelimit/cidr.ts";
import { authorize, compileAuthorizer, compilePolicy } from "../../workers/gateway/authz/evaluate.ts";
import { allowed, denied, policy, request, type Call } from "./authz-call.ts";

const deny = (operation: Record<string, unknown>) => ({ action: "DENY", rules: [{ to: [{ operation }] }] });
const allow = (operation: Record<string, unknown>) => ({ rules: [{ to: [{ operation }] }] });
const fromBlocks = (action: string, source: Record<string, unknown>) => ({ action, rules: [{ from: [{ source }] }] });
/** Which of `calls` the policy denies. */
const deniedOf = (spec: Record<string, unknown>, calls: Call[]) => calls.filter((call) => denied(spec, request(call)));

describe("hosts", () => {
  it("a pattern with a port matches the host normalized: lower case, no trailing dot, the scheme's default port", () => {
    const spec = deny({ hosts: ["api.example.com:8080"] });
    expect(deniedOf(spec, [{ host: "api.example.com:8080" }, { host: "API.example.com.:8080" }, { host: "api.example.com.:8080", scheme: "http" }]).length).toBe(3);
    expect(deniedOf(spec, [{ host: "api.example.com:8081" }, { host: "api.example.com" }, { host: "api.example.com.", scheme: "http" }])).toEqual([]);
    // The URL parser drops a default port: it is made explicit again.
    const https = deny({ hosts: ["api.example.com:443"] });
    expect(deniedOf(https, [{ host: "api.example.com" }, { host: "API.example.com." }, { host: "api.example.com:443", scheme: "http" }]).length).toBe(3);
    expect(deniedOf(https, [{ host: "api.example.com", scheme: "http" }, { host: "api.example.com:8443" }])).toEqual([]);
    expect(denied(deny({ hosts: ["api.example.com:80"] }), request({ host: "api.example.com", scheme: "http" }))).toBe(true);
    // Wildcards with a port: a suffix on the whole host:port.
    expect(denied(deny({ hosts: ["*.example.com:8080"] }), request({ host: "A.example.com.:8080" }))).toBe(true);
    expect(denied(deny({ hosts: ["*:8080"] }), request({ host: "anything.test:8080" }))).toBe(true);
  });

  it("IPv6 literals are a host without a port unless one follows the bracket", () => {
    const bare = deny({ hosts: ["[fd00::1]"] });
    expect(deniedOf(bare, [{ host: "[fd00::1]" }, { host: "[fd00::1]:8080" }]).length).toBe(2);
    expect(denied(bare, request({ host: "[fd00::2]:8080" }))).toBe(false);
    const port = deny({ hosts: ["[fd00::1]:8080"] });
    expect(denied(port, request({ host: "[fd00::1]:8080" }))).toBe(true);
    expect(deniedOf(port, [{ host: "[fd00::1]" }, { host: "[fd00::1]:8081" }])).toEqual([]);
    expect(denied(deny({ hosts: ["[fd00::1]:443"] }), request({ host: "[fd00::1]" }))).toBe(true);
  });

  it("an ALLOW's hosts and notHosts read the same normalized host", () => {
    expect(allowed(allow({ hosts: ["api.test:8443"] }), request({ host: "API.test.:8443" }))).toBe(true);
    expect(allowed(allow({ notHosts: ["api.test:443"] }), request({ host: "api.test." }))).toBe(false);
    expect(allowed(allow({ notHosts: ["api.test:443"] }), request({ host: "api.test:8443" }))).toBe(true);
  });
});

describe("IPv4-mapped IPv6 addresses are their IPv4 address, in blocks and client addresses", () => {
  const MAPPED = "::ffff:203.0.113.7";
  it("DENY ipBlocks, ALLOW notIpBlocks and source.ip, either way round", () => {
    for (const block of ["::ffff:203.0.113.0/120", "203.0.113.0/24", "::ffff:cb00:7100/120", "::ffff:0:0/96", "203.0.113.7", MAPPED]) {
      for (const ip of [MAPPED, "203.0.113.7", "::FFFF:CB00:7107", "0:0:0:0:0:ffff:203.0.113.7"]) {
        expect([block, ip, denied(fromBlocks("DENY", { ipBlocks: [block] }), request({ ip }))]).toEqual([block, ip, true]);
        expect([block, ip, allowed(fromBlocks("ALLOW", { notIpBlocks: [block] }), request({ ip }))]).toEqual([block, ip, false]);
        expect(denied({ action: "DENY", rules: [{ when: [{ key: "source.ip", values: [block] }] }] }, request({ ip }))).toBe(true);
      }
    }
    expect(denied(fromBlocks("DENY", { ipBlocks: ["::ffff:203.0.113.0/120"] }), request({ ip: "203.0.114.1" }))).toBe(false);
    expect(allowed(fromBlocks("ALLOW", { notIpBlocks: ["::ffff:203.0.113.0/120"] }), request({ ip: "198.51.100.1" }))).toBe(true);
  });

  it("an IPv6 block outside ::ffff:0:0/96 is IPv6 only: ::/0 and 0.0.0.0/0 together are everyone", () => {
    const v6 = fromBlocks("DENY", { ipBlocks: ["::/0"] });
    expect(deniedOf(v6, [{ ip: "2001:db8::1" }, { ip: MAPPED }, { ip: "203.0.113.7" }])).toEqual([{ ip: "2001:db8::1" }]);
    const v4 = fromBlocks("DENY", { ipBlocks: ["0.0.0.0/0"] });
    expect(deniedOf(v4, [{ ip: "2001:db8::1" }, { ip: MAPPED }, { ip: "203.0.113.7" }])).toEqual([{ ip: MAPPED }, { ip: "203.0.113.7" }]);
    // No address, or a malformed one, fails a positive match and satisfies a negative one.
    expect(deniedOf(v4, [{}, { ip: "not-an-ip" }])).toEqual([]);
    expect(allowed(fromBlocks("ALLOW", { notIpBlocks: ["0.0.0.0/0"] }), request({ ip: "junk" }))).toBe(true);
  });

  it("validation and evaluation share one parser: a block that validates compiles, one that does not throws", () => {
    const texts = ["10.0.0.0/8", "::ffff:203.0.113.0/120", "::ffff:1.2.3.4", "fd00::/8", "1.2.3.4", "::1", "10.0.0.1/8", "010.0.0.0/8", "1.2.3", ":::", "1::2::3", "::ffff:1.2.3.256", "1.2.3.4/33", "fd00::/129", "x"];
    for (const text of texts) {
      const valid = IpBlock.safeParse(text).success;
      expect([text, (() => { try { compileIpBlocks([text]); return true; } catch { return false; } })()]).toEqual([text, valid]);
    }
    expect(clientAddress("::ffff:10.0.0.1")).toEqual({ version: 4, value: 0x0a000001n });
  });

  it("rate limits' sourceCIDR keeps what its schema takes (leading zeros, host bits), and gains mapped addresses", () => {
    expect(compileCidr("010.000.0.0/8")("10.1.2.3")).toBe(true);
    expect(compileCidr("10.0.0.1/8")("10.9.9.9")).toBe(true);
    expect(compileCidr("10.0.0.0/8")("11.0.0.1")).toBe(false);
    expect(compileCidr("2001:db8::/32")("2001:db8::1")).toBe(true);
    expect(compileCidr("10.0.0.0/8")("::ffff:10.1.2.3")).toBe(true);
    expect(compileCidr("1:2/64")("1:2::")).toBe(false);
  });

  it("rate limits' sourceCIDR schema refuses IPv6 text that is no address, which could never match", () => {
    const check = (value: string) => ClientSelector.safeParse({ sourceCIDR: { value } });
    for (const value of ["1:2/64", "::::/0", "1:2:3:4:5:6:7:8:9/64", "12345::/16", "fe80::1%eth0/64", "2001:db8::/129"]) {
      expect(check(value).error?.issues.map((issue) => [issue.path.join("."), issue.message])).toEqual([["sourceCIDR.value", 'must be a CIDR such as "10.0.0.0/8" or "2001:db8::/32"']]);
    }
    for (const value of ["2001:db8::/32", "::/0", "::ffff:10.0.0.0/104", "010.000.0.0/8"]) expect(check(value).success).toBe(true);
  });
});

describe("case folding: the folded path against the folded patterns", () => {
  it("a DENY with upper-case patterns catches every case", () => {
    const spec = deny({ paths: ["/Admin", "/Admin/*"] });
    for (const path of ["/Admin", "/admin", "/ADMIN/x", "/aDmIn/x", "//admin/x"]) expect([path, denied(spec, request({ path }))]).toEqual([path, true]);
    expect(denied(spec, request({ path: "/administrator" }))).toBe(false);
    expect(denied(deny({ paths: ["*.PHP"] }), request({ path: "/x.php" }))).toBe(true);
  });

  it("an ALLOW's notPaths hold in every case; its paths, and a DENY's notPaths, as written", () => {
    const notAdmin = allow({ notPaths: ["/Admin/*"] });
    for (const path of ["/Admin/x", "/admin/x", "/ADMIN/x"]) expect([path, allowed(notAdmin, request({ path }))]).toEqual([path, false]);
    expect(allowed(allow({ paths: ["/Public/*"] }), request({ path: "/public/a" }))).toBe(false);
    // "Deny all but /Public/*": the exception itself is not denied for its folded reading.
    const allBut = { action: "DENY", rules: [{ to: [{ operation: { notPaths: ["/Public/*"] } }] }] };
    expect(denied(allBut, request({ path: "/Public/a" }))).toBe(false);
    expect(denied(allBut, request({ path: "/PUBLIC/a" }))).toBe(true);
  });
});

describe("path parameters (Java origins strip ';...' from each segment, '..;' is '..')", () => {
  const spec = deny({ paths: ["/admin", "/admin/*"] });

  it("readings: without the parameters, dot segments then resolved, slashes merged", () => {
    expect(pathReadings("/x/..;/admin").sent).toEqual(["/x/..;/admin", "/admin"]);
    expect(pathReadings("/admin;x=1/a;b/c").sent).toEqual(["/admin;x=1/a;b/c", "/admin/a/c"]);
    expect(pathReadings("/;x/admin").sent).toEqual(["/;x/admin", "//admin", "/admin"]);
    expect(pathReadings("/a/.;/b/..;").sent).toEqual(["/a/.;/b/..;", "/a/"]);
  });

  it("cannot get around a DENY or an ALLOW's notPaths", () => {
    for (const path of ["/admin;x=1", "/admin;/x", "/x/..;/admin", "/x/..;x/admin/y", "/;/admin", "/ADMIN;x", "//x/..;//admin", "/x/.;/..;/admin"]) {
      expect([path, denied(spec, request({ path }))]).toEqual([path, true]);
      expect([path, allowed(allow({ notPaths: ["/admin", "/admin/*"] }), request({ path }))]).toEqual([path, false]);
    }
    expect(denied(spec, request({ path: "/admins;x" }))).toBe(false);
    // An encoded ";" is no parameter: the origin decodes it after splitting, into a segment name.
    expect(denied(spec, request({ path: "/admin%3Bx" }))).toBe(false);
  });

  it("an ALLOW's paths must hold for every reading, so '..;' cannot leave what it allows", () => {
    const publicOnly = allow({ paths: ["/public/*"] });
    expect(allowed(publicOnly, request({ path: "/public/a;jsessionid=1" }))).toBe(true);
    expect(allowed(publicOnly, request({ path: "/public/..;/admin" }))).toBe(false);
    const allBut = { action: "DENY", rules: [{ to: [{ operation: { notPaths: ["/public/*"] } }] }] };
    expect(denied(allBut, request({ path: "/public/..;/admin" }))).toBe(true);
    expect(denied(allBut, request({ path: "/public/a;v=1" }))).toBe(false);
  });

  it("%00, a trailing '.' or '%20' are not readings (origin-specific): a prefix pattern covers them", () => {
    const prefix = deny({ paths: ["/admin*"] });
    for (const path of ["/admin%00", "/admin.", "/admin%20", "/admin./x"]) expect([path, denied(prefix, request({ path }))]).toEqual([path, true]);
  });

  it("the common path is one reading, read once per request", () => {
    const plain = pathReadings("/api/v1/orders/123");
    expect(plain.sent).toEqual(["/api/v1/orders/123"]);
    expect(plain.folded).toBe(plain.sent);
    const r = request({ path: "/A;x" });
    expect(r.pathReadings).toBe(r.pathReadings);
  });
});

describe("the cost of a request is bounded by the policy, not by what the client sends", () => {
  const prefixes = Array.from({ length: 63 }, (_, i) => `p${"q".repeat(200)}${i}*`);
  const LONG = `p${"q".repeat(200)}x`;
  const condition = (action: "DENY" | "ALLOW") => ({ key: "request.headers[x-a]", [action === "DENY" ? "values" : "notValues"]: [...prefixes, "z"] });
  /**
   * A large policy on one header: `rules` rules of 15 conditions on x-a of 64 values each; with
   * `lastFails`, a 16th condition (on x-b) that never holds, so that every rule is evaluated to its end.
   */
  const large = (action: "DENY" | "ALLOW", rules: number, lastFails: boolean) => ({
    action,
    rules: Array.from({ length: rules }, () => ({ when: [...Array.from({ length: 15 }, () => condition(action)), ...(lastFails ? [{ key: "request.headers[x-b]", values: ["never"] }] : [])] })),
  });

  afterEach(() => vi.restoreAllMocks());

  /** The decision, the prefix tests it took (String.prototype.startsWith calls) and the header reads. */
  function measure(spec: Record<string, unknown>, header: string): { decision: string; prefixTests: number; gets: number } {
    const headers = new Headers({ "x-a": header });
    const authorizer = compileAuthorizer([compilePolicy(policy("p", spec))])!;
    const r = request({ headers });
    const get = vi.spyOn(headers, "get");
    const startsWith = vi.spyOn(String.prototype, "startsWith");
    const decision = authorize(authorizer, r).decision;
    const prefixTests = startsWith.mock.calls.length;
    startsWith.mockRestore();
    return { decision, prefixTests, gets: get.mock.calls.length };
  }

  it("a header is split once per request, into at most MAX_HEADER_VALUES values", () => {
    expect(splitHeader(Array.from({ length: MAX_HEADER_VALUES }, (_, i) => `v${i}`).join(","))).toHaveLength(MAX_HEADER_VALUES);
    expect(splitHeader("b,".repeat(MAX_HEADER_VALUES))).toBe(TOO_MANY);
    // One read per header name (x-a, x-b), however many conditions read them.
    expect(measure(large("DENY", 64, true), `${"b,".repeat(16_000)}z`).gets).toBe(2);
    expect(measure(large("DENY", 64, true), `${LONG},z`).gets).toBe(2);
  });

  it("past the cap a header's conditions fail closed, without testing a value: a DENY's hold, an ALLOW's do not", () => {
    const hostile = `${"b,".repeat(16_000)}z`;
    expect(measure(large("DENY", 64, false), hostile)).toMatchObject({ decision: "deny", prefixTests: 0 });
    expect(measure(large("ALLOW", 64, false), hostile)).toMatchObject({ decision: "deny", prefixTests: 0 });
    // "DENY unless the key is right": too many values is not the right key.
    const denyUnless = { action: "DENY", rules: [{ when: [{ key: "request.headers[x-a]", notValues: ["s3cret"] }] }] };
    expect(measure(denyUnless, `s3cret${",s3cret".repeat(MAX_HEADER_VALUES)}`).decision).toBe("deny");
    expect(measure(denyUnless, `s3cret${",s3cret".repeat(MAX_HEADER_VALUES - 1)}`).decision).toBe("allow");
  });

  it("under the cap, the work is at most conditions x MAX_HEADER_VALUES x patterns", () => {
    const rules = 16;
    const bound = rules * 15 * MAX_HEADER_VALUES * prefixes.length;
    // Every value is scanned against every prefix; for the DENY the last value ("z") makes each x-a condition hold.
    const values = [...Array.from({ length: MAX_HEADER_VALUES - 1 }, () => LONG), "z"].join(",");
    const denyCost = measure(large("DENY", rules, true), values);
    expect(denyCost.decision).toBe("allow");
    expect(denyCost.prefixTests).toBeLessThanOrEqual(bound);
    expect(denyCost.prefixTests).toBeGreaterThan(bound / 2);
    const allowCost = measure(large("ALLOW", rules, true), Array.from({ length: MAX_HEADER_VALUES }, () => LONG).join(","));
    expect(allowCost.decision).toBe("deny");
    expect(allowCost.prefixTests).toBeLessThanOrEqual(bound);
  });
});
