/** RequestRedirect and URLRewrite name a host to send to: Gateway API PreciseHostname, no wildcard. */
import { describe, expect, it } from "vitest";
import { errorsOf } from "../support/policy-text.ts";

const routeWith = (filter: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  hostnames: [r.test]
  rules:
    - filters: [${filter}]
`;

describe("redirect and rewrite hostnames", () => {
  it("refuse a wildcard, which would go out as the host itself (Location: https://*.example.com/)", () => {
    for (const filter of ['{ type: RequestRedirect, requestRedirect: { hostname: "*.example.com" } }', '{ type: URLRewrite, urlRewrite: { hostname: "*.example.com" } }']) {
      const errors = errorsOf(routeWith(filter));
      expect(errors, filter).toHaveLength(1);
      expect(errors[0]).toMatch(/hostname: must be a lowercase hostname without a wildcard \(a name to send to\)$/);
    }
    expect(errorsOf(routeWith("{ type: RequestRedirect, requestRedirect: { hostname: www.example.com } }"))).toEqual([]);
  });
});
