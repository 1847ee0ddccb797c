/** Proxy hygiene: forwarded headers, request ids, trace context, hostile paths, Worker backends and mirroring. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { rawExchange, TestGateway } from "../support/gateway.ts";
import { RawGateway } from "../support/raw-workerd.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";
import { MIRROR_TIMEOUT_MS } from "../../workers/gateway/stages/mirror.ts";

let up: Upstream;
let shadow: Upstream;
let gateway: TestGateway;

/** A Worker backend that echoes what it received, as the HTTP upstream does. */
const ECHO_WORKER = `export default { async fetch(request) {
  const url = new URL(request.url);
  return Response.json({ server: "worker", url: url.pathname + url.search, host: url.host,
    method: request.method, headers: Object.fromEntries(request.headers), body: await request.text() });
} };`;

beforeAll(async () => {
  up = await Upstream.start("up");
  shadow = await Upstream.start("shadow");
  gateway = await TestGateway.start(
    [
      backend("up", [up.url]),
      backend("shadow", [shadow.url]),
      backend("worker", { service: "ECHO" }),
      backend("unbound", { service: "MISSING" }),
      simpleRoute("up", "up.test", "up"),
      route("paths", {
        hostnames: ["paths.test"],
        rules: [
          { matches: [{ path: { type: "PathPrefix", value: "/private" } }], backendRefs: [{ name: "shadow" }] },
          { backendRefs: [{ name: "up" }] },
        ],
      }),
      simpleRoute("worker", "worker.test", "worker", {
        filters: [{ type: "URLRewrite", urlRewrite: { hostname: "internal.worker" } }],
      }),
      simpleRoute("unbound", "unbound.test", "unbound"),
      simpleRoute("mirrored", "mirrored.test", "up", {
        filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "shadow" } } }],
      }),
      simpleRoute("mirrored-broken", "mirrored-broken.test", "unbound", {
        filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "shadow" } } }],
      }),
    ],
    [{ binding: "ECHO", script: ECHO_WORKER }],
  );
});

afterEach(() => {
  up.reset();
  shadow.reset();
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([up.close(), shadow.close()]);
});

const echo = async (url: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
  const response = await gateway.fetch(url, init);
  return { response, echo: (await response.json()) as Echo };
};

describe("forwarded headers", () => {
  it("strips hop-by-hop headers, including those named by Connection, both ways", async () => {
    const response = await gateway.raw("/", {
      host: "up.test",
      connection: "x-secret-hop, keep-alive",
      "keep-alive": "timeout=5",
      "x-secret-hop": "1",
      "proxy-authorization": "Basic x",
      "proxy-connection": "keep-alive",
      te: "trailers",
      "x-kept": "yes",
    });
    const seen = JSON.parse(response.body) as Echo;
    for (const name of ["x-secret-hop", "keep-alive", "proxy-authorization", "proxy-connection", "te"]) {
      expect(seen.headers[name], name).toBeUndefined();
    }
    expect(seen.headers["x-kept"]).toBe("yes");
    // The upstream answered with keep-alive: timeout=5; the client must not get the upstream's connection headers.
    expect(response.headers["keep-alive"]).toBeUndefined();
  });

  it("sets x-forwarded-for, -proto and -host", async () => {
    const { echo: seen } = await echo("http://up.test/", { headers: { "cf-connecting-ip": "203.0.113.9", "x-forwarded-for": "198.51.100.1" } });
    expect(seen.headers["x-forwarded-for"]).toBe("198.51.100.1, 203.0.113.9");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["x-forwarded-host"]).toBe("up.test");
  });

  it("does not forward headers that frameworks take for the real path or method (the mesh authorized the ones it sends)", async () => {
    const overrides = { "x-original-url": "/admin", "x-rewrite-url": "/admin", "x-forwarded-prefix": "/admin", "x-original-uri": "/admin", "x-forwarded-uri": "/admin", "x-envoy-original-path": "/admin", "x-http-method-override": "DELETE", "x-http-method": "DELETE", "x-method-override": "DELETE" };
    const { echo: seen } = await echo("http://up.test/public", { method: "POST", headers: { ...overrides, "x-kept": "yes" } });
    for (const name of Object.keys(overrides)) expect(seen.headers[name], name).toBeUndefined();
    expect(seen.headers["x-kept"]).toBe("yes");
    expect([seen.method, seen.url]).toEqual(["POST", "/public"]);
  });

  it("keeps a well-formed x-request-id, replaces a hostile one, and returns it", async () => {
    const kept = await echo("http://up.test/", { headers: { "x-request-id": "abc-123" } });
    expect(kept.echo.headers["x-request-id"]).toBe("abc-123");
    expect(kept.response.headers.get("x-request-id")).toBe("abc-123");
    const replaced = await echo("http://up.test/", { headers: { "x-request-id": "<script>" + "x".repeat(300) } });
    expect(replaced.echo.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(replaced.response.headers.get("x-request-id")).toBe(replaced.echo.headers["x-request-id"]);
  });

  it("joins the caller's trace with a new span, and starts a trace when there is none or it is malformed", async () => {
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const { response, echo: seen } = await echo("http://up.test/", { headers: { traceparent: incoming, tracestate: "k=v" } });
    const [version, traceId, spanId, flags] = String(seen.headers.traceparent).split("-");
    expect([version, traceId, flags]).toEqual(["00", "0af7651916cd43dd8448eb211c80319c", "01"]);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe("b7ad6b7169203331");
    expect(seen.headers.tracestate).toBe("k=v");
    const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
    expect(outcome).toMatchObject({ traceId: "0af7651916cd43dd8448eb211c80319c", parentSpanId: "b7ad6b7169203331" });
    // The upstream's parent is the attempt's client span, a child of the gateway's server span (traces.test.ts).
    expect(outcome.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe(outcome.spanId);

    for (const bad of ["garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]) {
      const fresh = await echo("http://up.test/", { headers: { traceparent: bad, tracestate: "k=v" } });
      expect(fresh.echo.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(fresh.echo.headers.traceparent).not.toContain("0af7651916cd43dd8448eb211c80319c");
      // W3C Trace Context: a restarted trace drops the old vendor state.
      expect(fresh.echo.headers.tracestate, bad).toBeUndefined();
    }
    const missing = await echo("http://up.test/", { headers: { tracestate: "k=v" } });
    expect(missing.echo.headers.tracestate).toBeUndefined();
  });

  it("strips every x-edgemesh-* header both ways: neither a client nor an upstream speaks for the mesh", async () => {
    up.extraHeaders = { "x-edgemesh-reason": "no_route", "x-edgemesh-attempts": "7", "x-edgemesh-endpoint": "http://10.0.0.1" };
    const { response, echo: seen } = await echo("http://up.test/", {
      headers: { "x-edgemesh-endpoint": "http://10.0.0.1", "x-edgemesh-actor": "root", "x-edgemesh-attempts": "9", "X-Edgemesh-Anything": "1" },
    });
    expect(Object.keys(seen.headers).filter((name) => name.startsWith("x-edgemesh-"))).toEqual([]);
    expect(response.status).toBe(200);
    expect([...response.headers.keys()].filter((name) => name.startsWith("x-edgemesh-"))).toEqual(["x-edgemesh-attempts"]);
    // The mesh's own count, not the upstream's.
    expect(response.headers.get("x-edgemesh-attempts")).toBe("1");
    expect((await gateway.outcomeOf(response.headers.get("x-request-id")!)).reason).toBeUndefined();
  });
});

describe("hostile paths are matched as the upstream sees them", () => {
  const cases: [string, string, string][] = [
    ["/a/../private/x", "shadow", "/private/x"],
    ["/public/%2e%2e/private", "shadow", "/private"],
    ["/public/.%2E/private", "shadow", "/private"],
    ["/%70rivate/x", "shadow", "/private/x"],
    ["//private", "shadow", "/private"],
    // The URL parser resolves ".." first (it removes the empty segment before it), then slashes merge.
    ["/public//..//private//x", "up", "/public/private/x"],
    ["///private", "shadow", "/private"],
    ["/private%3Fx", "up", "/private%3Fx"],
    ["/public\\..\\private", "shadow", "/private"],
  ];
  for (const [path, server, seenPath] of cases) {
    it(`${path} goes to ${server} as ${seenPath}`, async () => {
      const { echo: seen } = await echo(`http://paths.test${path}`);
      expect(seen.server).toBe(server);
      expect(seen.url).toBe(seenPath);
    });
  }

  it("refuses encoded slashes and backslashes with 400", async () => {
    for (const path of ["/private%2Fx", "/public%2f..%2fprivate", "/x%5Cprivate"]) {
      const response = await gateway.fetch(`http://paths.test${path}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("x-edgemesh-reason")).toBe("invalid_request");
    }
    expect(up.received).toHaveLength(0);
    expect(shadow.received).toHaveLength(0);
  });
});

describe("a Host header that makes no valid URL", () => {
  // Miniflare's entry Worker parses every request's URL before the gateway runs, so these go to the
  // workerd binary itself, as on the edge.
  let raw: RawGateway;
  beforeAll(async () => {
    raw = await RawGateway.start([backend("up", [up.url]), simpleRoute("catch-all", "*.test", "up"), route("any", { rules: [{ backendRefs: [{ name: "up" }] }] })]);
  });
  afterAll(() => raw?.dispose());

  const request = (...host: string[]) => rawExchange(raw.port, `GET /x HTTP/1.1\r\n${host.map((h) => `Host: ${h}\r\n`).join("")}Connection: close\r\n\r\n`);
  const parse = (answer: string) => ({ status: Number(answer.split(" ")[1]), body: answer.slice(answer.indexOf("\r\n\r\n") + 4) });

  it("gets a JSON 400 invalid_request from the gateway", async () => {
    for (const host of ["[zz", "up.test:99999", "up.test:x"]) {
      const { status, body } = parse(await request(host));
      expect(status, host).toBe(400);
      expect(JSON.parse(body).error, host).toMatchObject({ status: 400, reason: "invalid_request", message: "the request's Host header does not make a valid URL" });
    }
    expect(up.received).toHaveLength(0);
  });

  it("is refused before any Worker runs when it is duplicated or not a hostname at all (workerd answers 500 itself)", async () => {
    for (const hosts of [["up.test", "other.test"], ["up test"], ["up.test/x"]]) {
      const { status } = parse(await request(...hosts));
      expect(status, hosts.join(" + ")).toBe(500);
    }
    expect(up.received).toHaveLength(0);
  });
});

describe("paths the admin API and the mesh must read alike (the workerd binary: request.url as sent)", () => {
  let raw: RawGateway;
  beforeAll(async () => {
    raw = await RawGateway.start([backend("up", [up.url]), simpleRoute("catch-all", "*.test", "up")]);
  });
  afterAll(() => raw?.dispose());
  const get = async (path: string, headers = "") => {
    const answer = await rawExchange(raw.port, `GET ${path} HTTP/1.1\r\nHost: up.test\r\n${headers}Connection: close\r\n\r\n`);
    return Number(answer.split(" ")[1]);
  };

  it("%2e%2e is a dot segment for both: /x/%2e%2e/admin is the admin API, /admin/%2e%2e/x is the mesh's /x", async () => {
    // The admin API refuses a request without credentials: 401, and nothing reaches the upstream.
    expect(await get("/x/%2e%2e/admin")).toBe(401);
    expect(up.received).toHaveLength(0);
    expect(await get("/admin/%2e%2e/x")).toBe(200);
    expect(up.received.map((request) => request.url)).toEqual(["/x"]);
  });

  it("repeated slashes merge for both: //admin is the admin API, and //x//y reaches the upstream as /x/y", async () => {
    expect(await get("//admin")).toBe(401);
    expect(await get("/admin//config")).toBe(401);
    // A backslash is a slash to the URL parser: the same path for both.
    for (const path of ["/\\admin", "/\\/admin", "/x/..\\admin", "/\\admin/config"]) expect(await get(path), path).toBe(401);
    expect(up.received).toHaveLength(0);
    expect(await get("//x//y")).toBe(200);
    expect(up.received.map((request) => request.url)).toEqual(["/x/y"]);
  });

  it("a client that lists CF-Connecting-IP in Connection still gets its address appended to X-Forwarded-For", async () => {
    expect(await get("/xff", "X-Forwarded-For: 6.6.6.6\r\nCF-Connecting-IP: 9.9.9.9\r\nConnection: cf-connecting-ip\r\n")).toBe(200);
    expect(up.received.at(-1)?.headers["x-forwarded-for"]).toBe("6.6.6.6, 9.9.9.9");
  });
});

describe("Worker backends over service bindings", () => {
  it("calls the bound Worker with the rewritten host", async () => {
    const { echo: seen } = await echo("http://worker.test/hello?x=1", { method: "POST", body: "hi" });
    expect(seen).toMatchObject({ server: "worker", url: "/hello?x=1", host: "internal.worker", method: "POST", body: "hi" });
  });

  it("answers 503 when the binding is missing", async () => {
    const response = await gateway.fetch("http://unbound.test/");
    expect(response.status).toBe(503);
    expect(response.headers.get("x-edgemesh-reason")).toBe("no_healthy_upstream");
  });
});

describe("request mirroring", () => {
  it("sends a copy to the mirror after the response, with a -shadow host, body included", async () => {
    const response = await gateway.fetch("http://mirrored.test/m?q=1", { method: "PUT", body: "payload" });
    expect(response.status).toBe(200);
    for (let i = 0; i < 100 && shadow.received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(shadow.received).toHaveLength(1);
    expect(shadow.received[0]).toMatchObject({ method: "PUT", url: "/m?q=1", body: "payload" });
    expect(shadow.received[0]!.headers["x-forwarded-host"]).toBe("mirrored.test-shadow");
    expect(up.received[0]!.headers["x-forwarded-host"]).toBe("mirrored.test");
    expect(up.received[0]!.body).toBe("payload");
  });

  it("names the copy's host before the port, so a Host with a port is still mirrored", async () => {
    const response = await gateway.fetch("http://mirrored.test:8443/m", { headers: { host: "mirrored.test:8443" } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    for (let i = 0; i < 100 && shadow.received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(shadow.received[0]?.headers["x-forwarded-host"]).toBe("mirrored.test-shadow:8443");
  });

  it("does not mirror a request the mesh answered itself", async () => {
    expect((await gateway.fetch("http://mirrored-broken.test/")).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(shadow.received).toHaveLength(0);
  });

  it("does not let a hanging mirror slow down or fail the response", async () => {
    shadow.setAlways({ kind: "hang" });
    const startedAt = Date.now();
    const response = await gateway.fetch("http://mirrored.test/");
    expect(response.status).toBe(200);
    await response.text();
    const answeredAt = Date.now();
    // The copy reaches the shadow after the answer, and is still hanging there: the answer did not
    // wait for it (a mirror on the request path would hold the answer until its 10 s timeout).
    await waitFor("the mirrored copy at the shadow", () => shadow.pending > 0);
    expect(shadow.received).toHaveLength(1);
    expect(answeredAt - startedAt).toBeLessThan(MIRROR_TIMEOUT_MS);
    shadow.release();
  });
});
