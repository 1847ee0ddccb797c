/** AuthorizationPolicy's schema and reference checks: what it takes, and the exact error text for what it does not. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { normalizedPath } from "../../policies/schema/index.ts";
import { loadYaml } from "../../policies/yaml.ts";
import { normalizePathname } from "../../workers/gateway/stages/normalize-path.ts";

const BACKEND = `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: details }
spec: { endpoints: [{ url: "http://127.0.0.1:9101" }] }
---
`;

const policyWith = (spec: string) => `${BACKEND}apiVersion: edgemesh.dev/v1alpha1
kind: AuthorizationPolicy
metadata: { name: details }
spec: ${spec}
`;

function errorsOf(yaml: string): string[] {
  const loaded = loadYaml("authz.yaml", yaml);
  const result = parsePolicySet(loaded.documents);
  return [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError);
}

describe("AuthorizationPolicy", () => {
  it("takes Istio's shapes, with ALLOW as the default action", () => {
    expect(errorsOf(policyWith("{}"))).toEqual([]);
    expect(errorsOf(policyWith("{ rules: [{}] }"))).toEqual([]);
    expect(errorsOf(policyWith(`
  targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }]
  action: DENY
  dryRun: true
  rules:
    - from: [{ source: { principals: ["spiffe://mesh.test/ns/shop/*"], notNamespaces: [dev], requestPrincipals: ["*"], ipBlocks: ["10.0.0.0/8", "::1"] } }]
      to: [{ operation: { hosts: ["details.mesh", "api.test:8443"], methods: [GET], notPaths: ["/health", "*.png"] } }]
      when:
        - { key: "request.headers[x-env]", values: [prod] }
        - { key: "request.auth.claims[org][team]", notValues: ["ops*"] }
        - { key: source.ip, values: ["192.168.0.0/16"] }
        - { key: source.namespace, values: [shop] }`))).toEqual([]);
    const loaded = loadYaml("authz.yaml", policyWith("{}"));
    const result = parsePolicySet(loaded.documents);
    expect(result.ok && result.set.authorizationPolicies[0]!.value.spec).toEqual({ action: "ALLOW" });
  });

  it("names the field and what it expects", () => {
    expect(errorsOf(policyWith("{ action: REJECT }"))).toEqual(['authz.yaml:9:17: AuthorizationPolicy/details spec.action: must be one of "ALLOW", "DENY", "AUDIT"']);
    expect(errorsOf(policyWith("{ rules: [{ from: [{ source: { principal: [a] } }] }] }"))).toEqual([
      "authz.yaml:9:49: AuthorizationPolicy/details spec.rules[0].from[0].source.principal: is not a known field",
    ]);
    expect(errorsOf(policyWith("{ rules: [{ from: [{ source: {} }] }] }"))).toEqual([
      "authz.yaml:9:36: AuthorizationPolicy/details spec.rules[0].from[0].source: must set at least one of principals, notPrincipals, namespaces, notNamespaces, requestPrincipals, notRequestPrincipals, ipBlocks, notIpBlocks",
    ]);
    expect(errorsOf(policyWith('{ rules: [{ from: [{ source: { principals: ["a*b"] } }] }] }'))).toEqual([
      'authz.yaml:9:51: AuthorizationPolicy/details spec.rules[0].from[0].source.principals[0]: may hold "*" only as its first or last character (exact, prefix "abc*", suffix "*abc", or "*" for any value)',
    ]);
    expect(errorsOf(policyWith('{ rules: [{ from: [{ source: { ipBlocks: ["10.0.0.1/8", "nope"] } }] }] }'))).toEqual([
      "authz.yaml:9:49: AuthorizationPolicy/details spec.rules[0].from[0].source.ipBlocks[0]: has address bits set past its /8 prefix: write 10.0.0.0/8",
      'authz.yaml:9:63: AuthorizationPolicy/details spec.rules[0].from[0].source.ipBlocks[1]: must be an IP address or a CIDR block such as "10.0.0.0/8" or "fd00::/8"',
    ]);
    expect(errorsOf(policyWith('{ rules: [{ to: [{ operation: { paths: ["admin"], methods: [get] } }] }] }'))).toEqual([
      'authz.yaml:9:67: AuthorizationPolicy/details spec.rules[0].to[0].operation.methods[0]: must be an upper-case HTTP method such as "GET" (or a "*" match)',
      'authz.yaml:9:47: AuthorizationPolicy/details spec.rules[0].to[0].operation.paths[0]: must start with "/" (or "*")',
    ]);
  });

  it("refuses unknown when keys, naming the field, and conditions without values", () => {
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "request.time", values: [x] }] }] }'))).toEqual([
      "authz.yaml:9:33: AuthorizationPolicy/details spec.rules[0].when[0].key: must be one of request.headers[<name>], request.auth.claims[<name>], request.auth.principal, source.principal, source.namespace, source.ip",
    ]);
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "request.auth.claims[a][b][c][d][e][f][g][h][i]", values: [x] }] }] }'))).toEqual([
      "authz.yaml:9:33: AuthorizationPolicy/details spec.rules[0].when[0].key: must be one of request.headers[<name>], request.auth.claims[<name>], request.auth.principal, source.principal, source.namespace, source.ip (claims at most 8 deep)",
    ]);
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "request.headers[bad header]", values: [x] }] }] }'))[0]).toContain("spec.rules[0].when[0].key: must be one of");
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "source.principal" }] }] }'))).toEqual([
      "authz.yaml:9:26: AuthorizationPolicy/details spec.rules[0].when[0]: must set values, notValues or both",
    ]);
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "request.headers[x]", values: ["a, b"] }] }] }'))).toEqual([
      'authz.yaml:9:64: AuthorizationPolicy/details spec.rules[0].when[0].values[0]: must not contain "," (a header is matched value by value, split at commas)',
    ]);
    expect(errorsOf(policyWith('{ rules: [{ when: [{ key: "source.ip", values: ["x"] }] }] }'))).toEqual([
      'authz.yaml:9:55: AuthorizationPolicy/details spec.rules[0].when[0].values[0]: must be an IP address or a CIDR block such as "10.0.0.0/8" or "fd00::/8"',
    ]);
  });

  it("refuses a host written otherwise than requests carry it, saying what to write", () => {
    const hosts = (list: string[]) => errorsOf(policyWith(`{ rules: [{ to: [{ operation: { hosts: ${JSON.stringify(list)} } }] }] }`)).map((error) => error.replace(/^.*operation\.hosts/, "hosts"));
    expect(hosts(["api.test:8443", "[fd00::1]", "[fd00::1]:8080", "*.example.com", "api.*", "*:8080", "xn--caf-dma.test", "10.0.0.1:80", "*"])).toEqual([]);
    expect(hosts(["api.example.com.:8080", "API.test", "fd00::1", "[fd00:0::1]:8080", "api.test:08080", "café.test", "[fd00::1", "*.Example.com:8443", "a b"])).toEqual([
      'hosts[0]: must not end with "." (hosts are matched without the trailing dot): write api.example.com:8080',
      "hosts[1]: is not written as requests carry it (lower case, international names in punycode): write api.test",
      'hosts[2]: has an IPv6 address without brackets: write it as "[fd00::1]" or "[fd00::1]:8080"',
      "hosts[3]: is not written as requests carry it: write [fd00::1]:8080",
      "hosts[4]: has a port that is not a number from 1 to 65535 (leave the port out to match any port)",
      "hosts[5]: is not written as requests carry it (lower case, international names in punycode): write xn--caf-dma.test",
      'hosts[6]: must be a host such as "api.example.com", "*.example.com", "10.0.0.1" or "[fd00::1]", optionally with ":port"',
      "hosts[7]: is not written as requests carry it (lower case, international names in punycode): write *.example.com:8443",
      'hosts[8]: must be a host such as "api.example.com", "*.example.com", "10.0.0.1" or "[fd00::1]", optionally with ":port"',
    ]);
  });

  it("refuses a path that could never match a normalized request path, saying what to write", () => {
    const paths = (list: string[]) => errorsOf(policyWith(`{ rules: [{ to: [{ operation: { notPaths: ${JSON.stringify(list)} } }] }] }`)).map((error) => error.replace(/^.*operation\.notPaths/, "notPaths"));
    expect(paths(["/caf%C3%A9", "/admin/*", "*.png", "/a;b", "/a/.*", "/100%", "/Admin", "*"])).toEqual([]);
    const never = "can never match: request paths reach policies normalized (percent-encoded UTF-8, escapes in upper case, unreserved characters decoded, dot segments resolved)";
    expect(paths(["/café", "/%61dmin", "/caf%c3%a9", "/a/../admin", "/a b", "/a?b", "/a\\b", "*é.png", "/admin/%61*", "/a/../*", "*/../x", "/a%2Fb"])).toEqual([
      `notPaths[0]: ${never}: write "/caf%C3%A9"`,
      `notPaths[1]: ${never}: write "/admin"`,
      `notPaths[2]: ${never}: write "/caf%C3%A9"`,
      `notPaths[3]: ${never}: write "/admin"`,
      `notPaths[4]: ${never}: write "/a%20b"`,
      `notPaths[5]: ${never}: write "/a%3Fb"`,
      `notPaths[6]: ${never}: write "/a/b"`,
      `notPaths[7]: ${never}: write "*%C3%A9.png"`,
      `notPaths[8]: ${never}: write "/admin/a*"`,
      // A prefix or suffix whose dot segments resolve has no faithful rewrite ("/a/../*" is not "/*").
      `notPaths[9]: ${never}`,
      `notPaths[10]: ${never}`,
      'notPaths[11]: can never match: a request path with an encoded "/" or "\\" (%2F, %5C) is refused',
    ]);
  });

  it("the normal form it checks paths against is the gateway's (URL parser, then normalize-path.ts)", () => {
    const stage = (path: string) => {
      try {
        return normalizePathname(new URL(`http://h${path}`).pathname);
      } catch {
        return undefined;
      }
    };
    const samples = ["/", "/café", "/%61%62", "/%7e%7E", "/a/./b/../c", "/a/%2e%2E/b", "/%2F", "/%5c", "/a b\"c", "/<>{}`|^", "/%c3%a9", "/%zz%", "/a;b=c", "//x//", "/\\x", "/ü/ß"];
    for (const path of samples) expect([path, normalizedPath(path)]).toEqual([path, stage(path)]);
  });

  it("takes IPv4-mapped IPv6 blocks and addresses, which the gateway matches as IPv4", () => {
    expect(errorsOf(policyWith('{ rules: [{ from: [{ source: { ipBlocks: ["::ffff:203.0.113.0/120", "::ffff:1.2.3.4", "::ffff:0:0/96"] } }] }] }'))).toEqual([]);
    expect(errorsOf(policyWith('{ rules: [{ from: [{ source: { notIpBlocks: ["::ffff:1.2.3.4/120"] } }] }] }'))[0]).toContain("notIpBlocks[0]: has address bits set past its /120 prefix: write ::ffff:102:300/120");
  });

  it("bounds its lists", () => {
    const many = JSON.stringify(Array.from({ length: 65 }, (_, i) => `spiffe://mesh.test/ns/default/sa/s${i}`));
    expect(errorsOf(policyWith(`{ rules: [{ from: [{ source: { principals: ${many} } }] }] }`))).toEqual([
      "authz.yaml:9:50: AuthorizationPolicy/details spec.rules[0].from[0].source.principals: must be at most 64 items",
    ]);
    expect(errorsOf(policyWith(`{ rules: [{ from: [{ source: { principals: ["${"a".repeat(257)}"] } }] }] }`))[0]).toContain("principals[0]: must be at most 256 characters");
  });

  it("refuses targetRefs to unknown objects, naming the field", () => {
    expect(errorsOf(policyWith("{ targetRefs: [{ group: edgemesh.dev, kind: Backend, name: detials }, { group: gateway.networking.k8s.io, kind: HTTPRoute, name: nope }] }"))).toEqual([
      'authz.yaml:9:66: AuthorizationPolicy/details spec.targetRefs[0].name: refers to unknown Backend "detials" in namespace "default"',
      'authz.yaml:9:136: AuthorizationPolicy/details spec.targetRefs[1].name: refers to unknown HTTPRoute "nope" in namespace "default"',
    ]);
  });
});
