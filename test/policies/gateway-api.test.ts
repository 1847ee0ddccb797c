/** Validation of the Gateway API features: mirror fractions, backendRef filters, Gateways and parentRefs (errors and warnings, exact text). */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";
import { BACKENDS, errorsOf, route } from "../support/policy-text.ts";


describe("Gateway API filters", () => {
  it("takes percent or fraction for a mirror, not both, and a fraction no greater than 1", () => {
    const yaml = route(`  rules:
    - backendRefs: [{ name: reviews-v1 }]
      filters:
        - type: RequestMirror
          requestMirror: { backendRef: { name: ratings }, percent: 10, fraction: { numerator: 1 } }
        - type: RequestMirror
          requestMirror: { backendRef: { name: ratings }, fraction: { numerator: 3, denominator: 2 } }
        - type: RequestMirror
          requestMirror: { backendRef: { name: ratings }, fraction: { numerator: 1, denominator: 0 } }
`);
    expect(errorsOf(yaml)).toEqual([
      "routes.yaml:23:82: HTTPRoute/reviews spec.rules[0].filters[0].requestMirror.fraction: cannot be set together with percent",
      "routes.yaml:25:82: HTTPRoute/reviews spec.rules[0].filters[1].requestMirror.fraction.numerator: must not be greater than the denominator (2)",
      "routes.yaml:27:98: HTTPRoute/reviews spec.rules[0].filters[2].requestMirror.fraction.denominator: must be at least 1",
    ]);
  });

  it("applies a rule's filter rules to each backendRef's filters, and keeps them off the rule's URLRewrite", () => {
    const yaml = route(`  rules:
    - matches: [{ path: { type: Exact, value: /x } }]
      backendRefs:
        - name: reviews-v1
          filters:
            - { type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /y } } }
            - { type: RequestRedirect, requestRedirect: { hostname: elsewhere.test } }
            - { type: URLRewrite, urlRewrite: { hostname: a.test } }
            - { type: RequestMirror, requestMirror: { backendRef: { name: ratings } } }
    - filters: [{ type: URLRewrite, urlRewrite: { hostname: b.test } }]
      backendRefs:
        - name: reviews-v1
          filters: [{ type: RequestRedirect, requestRedirect: { hostname: elsewhere.test } }]
`);
    expect(errorsOf(yaml)).toEqual([
      'routes.yaml:27:23: HTTPRoute/reviews spec.rules[0].backendRefs[0].filters[3].type: must be one of "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"',
      "routes.yaml:31:21: HTTPRoute/reviews spec.rules[1].backendRefs[0].filters[0]: RequestRedirect cannot be used with the rule's URLRewrite filter",
    ]);
    const valid = yaml.replace(/ *- \{ type: RequestMirror.*\n/, "");
    expect(errorsOf(valid)).toEqual([
      "routes.yaml:26:15: HTTPRoute/reviews spec.rules[0].backendRefs[0].filters[2]: URLRewrite may appear only once per backendRef",
      "routes.yaml:24:13: HTTPRoute/reviews spec.rules[0].backendRefs[0].filters: RequestRedirect and URLRewrite cannot be used together",
      "routes.yaml:24:13: HTTPRoute/reviews spec.rules[0].backendRefs[0].filters: ReplacePrefixMatch requires every match to use a PathPrefix path",
      "routes.yaml:30:21: HTTPRoute/reviews spec.rules[1].backendRefs[0].filters[0]: RequestRedirect cannot be used with the rule's URLRewrite filter",
    ]);
  });
});

describe("Gateways and parentRefs", () => {
  const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  gatewayClassName: edgemesh
  listeners:
    - { name: web, port: 80, protocol: HTTP, hostname: "*.example.com" }
    - { name: api, port: 443, protocol: HTTPS, hostname: api.example.com }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules: [{ backendRefs: [{ name: ratings }] }]
---${BACKENDS}`;
  const withRoute = (spec: string) => GATEWAY.replace("  rules: [", `${spec}\n  rules: [`);

  it("checks listeners: protocol, unknown fields, unique names and distinct port, protocol and hostname", () => {
    const broken = GATEWAY.replace("protocol: HTTPS, hostname: api.example.com }", "protocol: TLS, hostname: api.example.com, tls: {} }");
    expect(errorsOf(broken, "gw.yaml")).toEqual([
      'gw.yaml:8:41: Gateway/edge spec.listeners[1].protocol: must be one of "HTTP", "HTTPS"',
      "gw.yaml:8:78: Gateway/edge spec.listeners[1].tls: is not a known field",
    ]);
    const twice = GATEWAY.replace("name: api, port: 443, protocol: HTTPS, hostname: api.example.com", 'name: web, port: 80, protocol: HTTP, hostname: "*.example.com"');
    expect(errorsOf(twice, "gw.yaml")).toEqual([
      'gw.yaml:8:15: Gateway/edge spec.listeners[1].name: "web" names another listener of this Gateway too',
      "gw.yaml:8:7: Gateway/edge spec.listeners[1]: has the same port, protocol and hostname as listeners[0]",
    ]);
  });

  it("refuses parentRefs to an unknown Gateway, listener or port", () => {
    const yaml = withRoute(`  parentRefs:
    - { name: nope }
    - { name: edge, sectionName: admin }
    - { name: edge, sectionName: web, port: 443 }
    - { name: edge, port: 8443 }`);
    expect(errorsOf(yaml, "gw.yaml")).toEqual([
      'gw.yaml:15:15: HTTPRoute/r spec.parentRefs[0].name: refers to unknown Gateway "nope"',
      'gw.yaml:16:34: HTTPRoute/r spec.parentRefs[1].sectionName: Gateway "edge" has no listener "admin"',
      'gw.yaml:17:45: HTTPRoute/r spec.parentRefs[2].port: Gateway "edge" has no listener "web" on port 443',
      'gw.yaml:18:27: HTTPRoute/r spec.parentRefs[3].port: Gateway "edge" has no listener on port 8443',
    ]);
    const noGateway = `${BACKENDS}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ name: edge }]
  rules: [{ backendRefs: [{ name: ratings }] }]
`;
    expect(errorsOf(noGateway)).toEqual(['routes.yaml:18:24: HTTPRoute/r spec.parentRefs[0].name: refers to unknown Gateway "edge"']);
  });

  it("warns, without failing, about a route or hostname that attaches to no listener", () => {
    const warningsOf = (yaml: string) => {
      const result = parsePolicySet(loadYaml("gw.yaml", yaml).documents);
      if (!result.ok) throw new Error(result.errors.map(formatError).join("\n"));
      return result.warnings.map(formatError);
    };
    expect(warningsOf(GATEWAY)).toEqual([
      "gw.yaml:14:3: HTTPRoute/r spec.parentRefs: is not set, so the route attaches to no Gateway (the policies declare Gateway/edge)",
    ]);
    expect(warningsOf(withRoute("  parentRefs: [{ name: edge, sectionName: api }]\n  hostnames: [www.example.net]"))).toEqual([
      'gw.yaml:14:16: HTTPRoute/r spec.parentRefs[0]: attaches to no listener of Gateway "edge": listener "api" (api.example.com) shares no hostname with the route',
    ]);
    expect(warningsOf(withRoute("  parentRefs: [{ name: edge }]\n  hostnames: [www.example.net, www.example.com]"))).toEqual([
      "gw.yaml:15:15: HTTPRoute/r spec.hostnames[0]: is served by no listener the route attaches to",
    ]);
    const otherNamespace = withRoute("  parentRefs: [{ name: edge, namespace: default }]").replace("metadata: { name: r }", "metadata: { name: r, namespace: shop }");
    expect(warningsOf(otherNamespace.replace("name: ratings }] }]", "name: ratings, namespace: default }] }]"))).toEqual([
      'gw.yaml:14:16: HTTPRoute/shop/r spec.parentRefs[0]: attaches to no listener of Gateway "edge": listener "web" takes routes from namespace "default" only; listener "api" takes routes from namespace "default" only',
    ]);
  });
});
