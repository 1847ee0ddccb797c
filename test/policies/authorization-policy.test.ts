/** AuthorizationPolicy's schema and reference checks: what it takes, and the exact error text for what it does not. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

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
