/** Gateway API filters: several mirrors per rule and their fractions, backendRef-level filters, and where a rewritten hostname reaches each kind of backend. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let up: Upstream;
let other: Upstream;
let shadowA: Upstream;
let shadowB: Upstream;
let gateway: TestGateway;

/** A Worker backend that echoes what it received: the URL's host and the Host header apart. */
const ECHO_WORKER = `export default { async fetch(request) {
  const url = new URL(request.url);
  return Response.json({ server: "worker", url: url.pathname + url.search, urlHost: url.host, headers: Object.fromEntries(request.headers) });
} };`;

const mirror = (name: string, extra: Record<string, unknown> = {}) => ({ type: "RequestMirror", requestMirror: { backendRef: { name }, ...extra } });
const rewrite = (urlRewrite: Record<string, unknown>) => ({ type: "URLRewrite", urlRewrite });

beforeAll(async () => {
  [up, other, shadowA, shadowB] = await Promise.all([Upstream.start("up"), Upstream.start("other"), Upstream.start("shadow-a"), Upstream.start("shadow-b")]);
  gateway = await TestGateway.start(
    [
      backend("up", [up.url]),
      backend("other", [other.url]),
      backend("shadow-a", [shadowA.url]),
      backend("shadow-b", [shadowB.url]),
      backend("worker", { service: "ECHO" }),
      simpleRoute("two-mirrors", "two-mirrors.test", "up", { filters: [mirror("shadow-a"), mirror("shadow-b")] }),
      simpleRoute("half", "half.test", "up", { filters: [mirror("shadow-a", { percent: 100 }), mirror("shadow-b", { fraction: { numerator: 1, denominator: 2 } })] }),
      route("split-rewrite", {
        hostnames: ["split.test"],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/api" } }],
            filters: [mirror("shadow-a")],
            backendRefs: [
              { name: "up", filters: [rewrite({ hostname: "v2.internal", path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/v2" } })] },
              { name: "other" },
            ],
          },
        ],
      }),
      route("split-redirect", {
        hostnames: ["redirect.test"],
        rules: [
          {
            backendRefs: [
              {
                name: "up",
                filters: [
                  { type: "RequestRedirect", requestRedirect: { hostname: "moved.test", statusCode: 307 } },
                  { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-canary", value: "moved" }] } },
                ],
              },
            ],
            filters: [mirror("shadow-a")],
          },
        ],
      }),
      simpleRoute("origin-rewrite", "origin-rewrite.test", "up", { filters: [rewrite({ hostname: "internal.test" })] }),
      simpleRoute("worker-rewrite", "worker-rewrite.test", "worker", { filters: [rewrite({ hostname: "internal.worker" })] }),
      simpleRoute("worker-plain", "worker-plain.test", "worker"),
    ],
    [{ binding: "ECHO", script: ECHO_WORKER }],
  );
});

afterEach(() => {
  for (const upstream of [up, other, shadowA, shadowB]) upstream.reset();
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([up, other, shadowA, shadowB].map((upstream) => upstream.close()));
});

/** Waits (at most `ms`) until `upstream` has received `count` requests. */
async function received(upstream: Upstream, count: number, ms = 5_000): Promise<Echo[]> {
  for (const deadline = Date.now() + ms; upstream.received.length < count && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return upstream.received;
}

describe("RequestMirror", () => {
  it("sends a copy to every mirror of the rule", async () => {
    const response = await gateway.fetch("http://two-mirrors.test/m?q=1", { method: "PUT", body: "payload" });
    expect(response.status).toBe(200);
    for (const shadow of [shadowA, shadowB]) {
      const [copy] = await received(shadow, 1);
      expect(copy, shadow.name).toMatchObject({ method: "PUT", url: "/m?q=1", body: "payload" });
      expect(copy!.headers["x-forwarded-host"], shadow.name).toBe("two-mirrors.test-shadow");
    }
    expect(up.received).toHaveLength(1);
  });

  it("mirrors `fraction` of the requests", async () => {
    const requests = 200;
    for (let i = 0; i < requests; i++) expect((await gateway.fetch("http://half.test/")).status).toBe(200);
    // Mirror A takes every request: once it has them all, B's copies (sent alongside) are in too.
    expect(await received(shadowA, requests)).toHaveLength(requests);
    let count = -1;
    for (let i = 0; i < 50 && count !== shadowB.received.length; i++) {
      count = shadowB.received.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Binomial(200, 1/2): mean 100, standard deviation 7.1; five of them (35) either side.
    expect(count).toBeGreaterThanOrEqual(65);
    expect(count).toBeLessThanOrEqual(135);
  });
});

describe("backendRef filters", () => {
  it("rewrites host and path for that backendRef only, and mirrors the request as the rule left it", async () => {
    for (let i = 0; i < 40; i++) expect((await gateway.fetch("http://split.test/api/items?x=1")).status).toBe(200);
    // Weights 1:1, so both got some (all 40 to one side: probability 2^-39).
    expect(up.received.length).toBeGreaterThan(0);
    expect(other.received.length).toBeGreaterThan(0);
    for (const seen of up.received) expect([seen.url, seen.headers["x-forwarded-host"]]).toEqual(["/v2/items?x=1", "v2.internal"]);
    for (const seen of other.received) expect([seen.url, seen.headers["x-forwarded-host"]]).toEqual(["/api/items?x=1", "split.test"]);
    const copies = await received(shadowA, 40);
    expect(new Set(copies.map((copy) => `${copy.url} ${copy.headers["x-forwarded-host"]}`))).toEqual(new Set(["/api/items?x=1 split.test-shadow"]));
  });

  it("answers a backendRef's redirect without calling that backend, nor its mirrors", async () => {
    const response = await gateway.fetch("http://redirect.test/a/b?c=d");
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://moved.test/a/b?c=d");
    expect(response.headers.get("x-canary")).toBe("moved");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(up.received).toHaveLength(0);
    expect(shadowA.received).toHaveLength(0);
  });
});

describe("URLRewrite.hostname", () => {
  it("reaches an HTTP origin in x-forwarded-host: its Host is the endpoint's, set by the platform", async () => {
    const seen = (await (await gateway.fetch("http://origin-rewrite.test/x")).json()) as Echo;
    expect(seen.host).toBe(`127.0.0.1:${up.port}`);
    expect(seen.headers["x-forwarded-host"]).toBe("internal.test");
  });

  it("is a Worker backend's Host, in its URL and its Host header alike; x-forwarded-host keeps the client's", async () => {
    const seen = (await (await gateway.fetch("http://worker-rewrite.test/x")).json()) as { urlHost: string; headers: Record<string, string> };
    expect([seen.urlHost, seen.headers.host, seen.headers["x-forwarded-host"]]).toEqual(["internal.worker", "internal.worker", "worker-rewrite.test"]);
  });

  it("leaves a Worker backend the client's host without a rewrite, in URL and Host header", async () => {
    const seen = (await (await gateway.fetch("http://worker-plain.test:8080/x")).json()) as { urlHost: string; headers: Record<string, string> };
    expect([seen.urlHost, seen.headers.host, seen.headers["x-forwarded-host"]]).toEqual(["worker-plain.test:8080", "worker-plain.test:8080", "worker-plain.test:8080"]);
  });
});
