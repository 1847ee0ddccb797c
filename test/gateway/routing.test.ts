/** Routing: hostnames, Gateway API match types and precedence, 404s, redirects, rewrites, header filters. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let a: Upstream;
let b: Upstream;
let gateway: TestGateway;

const to = (name: string) => [{ name }];

beforeAll(async () => {
  a = await Upstream.start("a");
  b = await Upstream.start("b");
  gateway = await TestGateway.start([
    backend("a", [a.url]),
    backend("b", [b.url]),
    route("precedence", {
      hostnames: ["api.test"],
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: to("a") },
        { matches: [{ path: { type: "PathPrefix", value: "/shop" } }], backendRefs: to("b") },
        { matches: [{ path: { type: "PathPrefix", value: "/shop/cart" } }], backendRefs: to("a") },
        { matches: [{ path: { type: "Exact", value: "/shop/cart/x" } }], backendRefs: to("b") },
        { matches: [{ path: { type: "RegularExpression", value: "/items/[0-9]+" } }], backendRefs: to("b") },
        { matches: [{ path: { value: "/m" }, method: "POST" }], backendRefs: to("b") },
        { matches: [{ path: { value: "/h" }, headers: [{ name: "X-Env", value: "canary" }] }], backendRefs: to("b") },
        { matches: [{ path: { value: "/q" }, queryParams: [{ name: "v", type: "RegularExpression", value: "2|3" }] }], backendRefs: to("b") },
      ],
    }),
    route("wildcard", { hostnames: ["*.wild.test"], rules: [{ backendRefs: to("b") }] }),
    route("catch-all", { rules: [{ matches: [{ path: { type: "PathPrefix", value: "/any" } }], backendRefs: to("a") }] }),
    route("filters", {
      hostnames: ["filters.test"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/old" } }],
          filters: [
            { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" } } },
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: { set: [{ name: "x-set", value: "1" }], add: [{ name: "x-add", value: "2" }], remove: ["x-drop"] },
            },
            { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-served-by", value: "mesh" }], remove: ["x-upstream"] } },
          ],
          backendRefs: to("a"),
        },
        {
          matches: [{ path: { type: "PathPrefix", value: "/moved" } }],
          filters: [
            {
              type: "RequestRedirect",
              requestRedirect: { scheme: "https", hostname: "elsewhere.test", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/here" }, statusCode: 301 },
            },
          ],
        },
        { matches: [{ path: { type: "Exact", value: "/nowhere" } }] },
        { matches: [{ path: { type: "Exact", value: "/zero" } }], backendRefs: [{ name: "a", weight: 0 }] },
      ],
    }),
  ]);
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([a.close(), b.close()]);
});

async function served(url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const { status, body } = await gateway.json<Echo>(url, init);
  expect(status).toBe(200);
  return body.server;
}

describe("match precedence (Gateway API)", () => {
  it("prefers Exact, then the longest PathPrefix, element by element", async () => {
    expect(await served("http://api.test/shop/cart/x")).toBe("b");
    expect(await served("http://api.test/shop/cart/y")).toBe("a");
    expect(await served("http://api.test/shop/cart")).toBe("a");
    expect(await served("http://api.test/shop/")).toBe("b");
    expect(await served("http://api.test/shopping")).toBe("a");
  });

  it("puts RegularExpression paths before prefixes and matches them whole", async () => {
    expect(await served("http://api.test/items/42")).toBe("b");
    expect(await served("http://api.test/items/42/more")).toBe("a");
  });

  it("matches method, headers (names case-insensitively) and query parameters", async () => {
    expect(await served("http://api.test/m", { method: "POST" })).toBe("b");
    expect(await served("http://api.test/m")).toBe("a");
    expect(await served("http://api.test/h", { headers: { "x-env": "canary" } })).toBe("b");
    expect(await served("http://api.test/h", { headers: { "x-env": "prod" } })).toBe("a");
    expect(await served("http://api.test/q?v=3")).toBe("b");
    expect(await served("http://api.test/q?v=33")).toBe("a");
  });
});

describe("hostnames", () => {
  it("matches the Host case-insensitively, ignoring the port", async () => {
    expect(await served("http://API.test:8787/shop")).toBe("b");
  });

  it("matches wildcard hostnames on any depth of subdomain, not the bare domain", async () => {
    expect(await served("http://x.wild.test/")).toBe("b");
    expect(await served("http://y.x.wild.test/any")).toBe("b");
    const bare = await gateway.json("http://wild.test/");
    expect(bare.status).toBe(404);
  });

  it("falls back to routes without hostnames after the specific ones", async () => {
    expect(await served("http://filters.test/any/thing")).toBe("a");
    expect(await served("http://unknown.test/any")).toBe("a");
  });

  it("answers 404 with a JSON error and reason when nothing matches", async () => {
    const { status, headers, body } = await gateway.json<{ error: Record<string, unknown> }>("http://unknown.test/nothing");
    expect(status).toBe(404);
    expect(headers.get("x-edgemesh-reason")).toBe("no_route");
    expect(headers.get("content-type")).toBe("application/json");
    expect(body.error).toMatchObject({ status: 404, reason: "no_route", message: "no route matches GET unknown.test/nothing" });
    expect(body.error.requestId).toBe(headers.get("x-request-id"));
  });
});

describe("filters", () => {
  it("rewrites the matched prefix and edits request and response headers", async () => {
    const response = await gateway.fetch("http://filters.test/old/page?x=1", { headers: { "x-drop": "gone", "x-add": "1" } });
    const echo = (await response.json()) as Echo;
    expect(echo.url).toBe("/new/page?x=1");
    expect(echo.headers["x-set"]).toBe("1");
    expect(echo.headers["x-add"]).toBe("1, 2");
    expect(echo.headers["x-drop"]).toBeUndefined();
    expect(response.headers.get("x-served-by")).toBe("mesh");
    expect(response.headers.get("x-upstream")).toBeNull();
  });

  it("redirects without calling a backend", async () => {
    const response = await gateway.fetch("http://filters.test:8080/moved/a?b=c");
    expect(response.status).toBe(301);
    expect(response.headers.get("location")).toBe("https://elsewhere.test/here/a?b=c");
  });

  it("answers 500 for a rule with no backend to forward to", async () => {
    for (const path of ["/nowhere", "/zero"]) {
      const response = await gateway.fetch(`http://filters.test${path}`);
      expect(response.status).toBe(500);
      expect(response.headers.get("x-edgemesh-reason")).toBe("no_backend");
    }
  });
});
