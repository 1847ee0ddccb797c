/** Gateway listeners: a route serves the intersection of its hostnames with its listeners' (the Gateway API's rules); a route that attaches nowhere serves nothing. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";

let up: Upstream;
let gateway: TestGateway;

/** A route to the one upstream that names itself in x-route. */
const named = (name: string, spec: Record<string, unknown>) =>
  route(name, {
    ...spec,
    rules: [{ backendRefs: [{ name: "up" }], filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-route", value: name }] } }] }],
  });

beforeAll(async () => {
  up = await Upstream.start("up");
  gateway = await TestGateway.start([
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "edge" },
      spec: {
        gatewayClassName: "edgemesh",
        listeners: [
          { name: "web", port: 80, protocol: "HTTP", hostname: "*.example.com" },
          { name: "api", port: 443, protocol: "HTTPS", hostname: "api.example.com" },
          { name: "any", port: 8080, protocol: "HTTP" },
        ],
      },
    },
    backend("up", [up.url]),
    // Listener "*.example.com", route "foo.example.com": foo.example.com; the route's other hostname is ignored.
    named("foo", { parentRefs: [{ name: "edge", sectionName: "web" }], hostnames: ["foo.example.com", "foo.other.net"] }),
    // Listener "api.example.com", route "*.example.com": api.example.com only.
    named("wild", { parentRefs: [{ name: "edge", sectionName: "api" }], hostnames: ["*.example.com"] }),
    // A route without hostnames takes its listener's.
    named("bare", { parentRefs: [{ name: "edge", sectionName: "web" }] }),
    // A listener without a hostname takes the route's (chosen here by port).
    named("plain", { parentRefs: [{ name: "edge", port: 8080 }], hostnames: ["plain.test"] }),
    // Attached nowhere: no hostname in common, no parentRefs.
    named("orphan", { parentRefs: [{ name: "edge", sectionName: "api" }], hostnames: ["orphan.test"] }),
    named("loose", { hostnames: ["loose.test"] }),
  ]);
});

afterAll(async () => {
  await gateway.dispose();
  await up.close();
});

const routeFor = async (url: string) => {
  const response = await gateway.fetch(url);
  await response.body?.cancel();
  return response.status === 200 ? response.headers.get("x-route") : response.status;
};

describe("route attachment to listeners", () => {
  it("serves the intersection of the route's hostnames and its listener's", async () => {
    expect(await routeFor("http://foo.example.com/")).toBe("foo");
    expect(await routeFor("http://foo.other.net/")).toBe(404);
  });

  it("narrows a wildcard route to its listener's hostname", async () => {
    expect(await routeFor("http://api.example.com/")).toBe("wild");
    expect(await routeFor("http://api.example.com:443/")).toBe("wild");
  });

  it("gives a route without hostnames its listener's hostname, and a listener without one the route's", async () => {
    expect(await routeFor("http://zzz.example.com/")).toBe("bare");
    expect(await routeFor("http://a.b.example.com/")).toBe("bare");
    expect(await routeFor("http://example.com/")).toBe(404);
    expect(await routeFor("http://plain.test/")).toBe("plain");
  });

  it("does not serve a route that attaches to no listener, nor one without parentRefs once there are Gateways", async () => {
    expect(await routeFor("http://orphan.test/")).toBe(404);
    expect(await routeFor("http://loose.test/")).toBe(404);
  });
});
