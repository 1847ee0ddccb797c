/**
 * Golden metrics across isolates: each isolate flushes its counts to the metrics Durable Object in
 * batches, /admin/metrics serves the sum (per shard, with a shard label) in the Prometheus format,
 * promtool accepts it, and a real Prometheus scraping the mesh finds the traffic. The windowed counts
 * survive a restart of workerd once the shard's alarm has written them; the exposition's counters
 * start again from zero, a reset Prometheus handles.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PERSIST_INTERVAL_MS } from "../../durable-objects/metrics-state.ts";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Prometheus, PROMETHEUS_BIN } from "../support/prometheus.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let up: Upstream;
let mesh: TestGateway;
/** The end users' issuer's key (inline in the RequestAuthentication), and one it does not publish, under the same kid. */
let idp: CryptoKey;
let stranger: CryptoKey;
const END_USER_ISSUER = "https://idp.test";
const endUserToken = (key: CryptoKey) =>
  new SignJWT({ iss: END_USER_ISSUER, aud: "account", sub: "user-1" }).setProtectedHeader({ alg: "ES256", kid: "idp-1", typ: "JWT" }).setIssuedAt().setExpirationTime("5m").sign(key);

beforeAll(async () => {
  up = await Upstream.start("up");
  const strict = { ...backend("vault", [up.url]), spec: { endpoints: [{ url: up.url }], peerAuthentication: { mode: "STRICT" } } };
  const denyAll = { apiVersion: "edgemesh.dev/v1alpha1", kind: "AuthorizationPolicy", metadata: { name: "nobody" }, spec: { targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "locked" }] } };
  const idpKeys = await generateKeyPair("ES256", { extractable: true });
  idp = idpKeys.privateKey;
  stranger = (await generateKeyPair("ES256")).privateKey;
  const endUsers = {
    apiVersion: "edgemesh.dev/v1alpha1",
    kind: "RequestAuthentication",
    metadata: { name: "account-users" },
    spec: {
      targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "account" }],
      jwtRules: [{ issuer: END_USER_ISSUER, audiences: ["account"], jwks: { keys: [{ ...(await exportJWK(idpKeys.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" }] } }],
    },
  };
  // peerAuthentication DISABLE: a token in the query reaches the end-user check (PERMISSIVE's workload-token check would refuse it first).
  const account = [{ ...backend("account", [up.url]), spec: { endpoints: [{ url: up.url }], peerAuthentication: { mode: "DISABLE" } } }, simpleRoute("account", "account.test", "account"), endUsers];
  mesh = await TestGateway.start([backend("up", [up.url]), simpleRoute("shop", "shop.test", "up"), strict, simpleRoute("vault", "vault.test", "vault"), backend("locked", [up.url]), simpleRoute("locked", "locked.test", "locked"), denyAll, ...account], {
    isolates: 2,
    vars: { METRICS_FLUSH_INTERVAL_MS: "200" },
    callers: [{ name: "web", props: { service: "web" } }],
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await up?.close();
});

async function exposition(from = mesh): Promise<string> {
  const response = await from.fetch("http://admin.test/admin/metrics", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return response.text();
}

/** The value of one series of the exposition, by its name and a label subset; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

describe("metrics across isolates", () => {
  it("sums both isolates' requests by status, after retries (route level) and per try (attempt level)", async () => {
    for (let i = 0; i < 7; i++) expect((await mesh.fetch("http://shop.test/ok", {}, 0)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await mesh.fetch("http://shop.test/ok", {}, 1)).status).toBe(200);
    up.failNext(3, 500);
    for (let i = 0; i < 3; i++) expect((await mesh.fetch("http://shop.test/fail", {}, 1)).status).toBe(500);
    let text = "";
    await waitFor("both isolates' counts at /admin/metrics", async () => {
      text = await exposition();
      return sample(text, "edgemesh_requests_total", { destination_service: "up" }) === 15;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(sample(text, "edgemesh_requests_total", { destination_service: "up", response_code: "200" })).toBe(12);
    expect(sample(text, "edgemesh_requests_total", { destination_service: "up", response_code: "500", source_workload: "unknown" })).toBe(3);
    expect(sample(text, "edgemesh_attempts_total", { destination_service: "up", response_code: "500", result: "5xx" })).toBe(3);
    expect(sample(text, "edgemesh_request_duration_seconds_count", { destination_service: "up" })).toBe(15);
    expect(sample(text, "edgemesh_request_duration_seconds_bucket", { destination_service: "up", le: "+Inf" })).toBe(15);
  });

  it.runIf(existsSync("/usr/bin/promtool"))("passes promtool check metrics", async () => {
    const text = await exposition();
    expect(execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" })).toBe("");
  });

  // Debian's prometheus package (.ci/run installs it when missing).
  it.runIf(existsSync(PROMETHEUS_BIN))("is scraped by a real Prometheus, whose queries find the traffic", async () => {
    const prometheus = await Prometheus.start(await mesh.url(), "/admin/metrics", ADMIN_TOKEN);
    try {
      let result: Awaited<ReturnType<Prometheus["query"]>>;
      await waitFor("Prometheus to scrape the mesh", async () => {
        result = await prometheus.query('sum(edgemesh_requests_total{destination_service="up"})');
        return result?.length === 1 && Number(result[0]!.value[1]) >= 15;
      }, { timeoutMs: 45_000, intervalMs: 250 });
      expect((await prometheus.targets())[0]!.health).toBe("up");
      const byCode = await prometheus.query('sum by (response_code) (edgemesh_requests_total{destination_service="up"})');
      expect(Object.fromEntries(byCode!.map((series) => [series.metric.response_code, Number(series.value[1])]))).toMatchObject({ "200": 12, "500": 3 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nprometheus said: ${prometheus.output.join("")}`);
    } finally {
      await prometheus.stop();
    }
  }, 90_000);

  it("draws the service graph from the traffic: edges by SPIFFE ID with rate, success rate and quantiles, busiest first", async () => {
    for (let i = 0; i < 20; i++) expect((await mesh.fetchAs("web", "http://shop.test/from-web")).status).toBe(200);
    type Graph = { windowSeconds: number; nodes: { id: string }[]; edges: { source: string; destination: string; requests: number; requestsPerSecond: number; successRate: number; latencySeconds: Record<string, number | null> }[]; others?: { edges: number; requests: number } };
    let graph: Graph | undefined;
    await waitFor("the Worker caller's edge in /admin/graph", async () => {
      graph = (await mesh.admin<Graph>("GET", "/graph")).body;
      return graph.edges.some((edge) => edge.source.endsWith("/sa/web") && edge.requests === 20);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    const web = graph!.edges.find((edge) => edge.source === "spiffe://edgemesh.local/ns/default/sa/web")!;
    expect(web.destination).toBe("spiffe://edgemesh.local/ns/default/sa/up");
    expect(web.successRate).toBe(1);
    // The rate is over the minutes the shards summed: the 5 asked for and the current one so far (300 to 360 s).
    expect(graph!.windowSeconds).toBeGreaterThanOrEqual(300);
    expect(graph!.windowSeconds).toBeLessThanOrEqual(360);
    expect(web.requestsPerSecond).toBeCloseTo(20 / graph!.windowSeconds, 10);
    expect(web.latencySeconds.p50).toBeGreaterThan(0);
    expect(web.latencySeconds.p99).toBeGreaterThanOrEqual(web.latencySeconds.p50!);
    const anonymous = graph!.edges.find((edge) => edge.source === "unknown")!;
    expect(anonymous.requests).toBe(15);
    expect(anonymous.successRate).toBeCloseTo(12 / 15, 10);
    expect(graph!.edges[0]).toBe(web); // busiest first
    expect(graph!.nodes.map((node) => node.id)).toEqual(["spiffe://edgemesh.local/ns/default/sa/up", "spiffe://edgemesh.local/ns/default/sa/web", "unknown"]);

    const top = (await mesh.admin<Graph>("GET", "/graph?limit=1")).body;
    expect(top.edges.map((edge) => edge.source)).toEqual(["spiffe://edgemesh.local/ns/default/sa/web"]);
    expect(top.others).toEqual({ edges: 1, requests: 15 });
    expect((await mesh.admin("GET", "/graph?limit=0")).status).toBe(400);
  });

  it("counts refusals: 401 by refusal code, 403 by the policy that denied", async () => {
    const before = up.received.length;
    expect((await mesh.fetch("http://vault.test/")).status).toBe(401);
    expect((await mesh.fetch("http://vault.test/", { headers: { "edgemesh-workload-token": "not.a.token" } })).status).toBe(401);
    expect((await mesh.fetchAs("web", "http://locked.test/")).status).toBe(403);
    expect(up.received.length).toBe(before);
    let text = "";
    await waitFor("the refusals at /admin/metrics", async () => {
      text = await exposition();
      return sample(text, "edgemesh_denied_total", { destination_service: "locked" }) === 1 && sample(text, "edgemesh_unauthenticated_total", { route: "vault" }) === 2;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(sample(text, "edgemesh_unauthenticated_total", { route: "vault", code: "missing_token" })).toBe(1);
    expect(sample(text, "edgemesh_unauthenticated_total", { route: "vault", code: "non_canonical_encoding" })).toBe(1);
    expect(sample(text, "edgemesh_denied_total", { source_workload: "web", policy: "default/nobody" })).toBe(1);
  });

  it("counts request bytes sent upstream only: a refused request's Content-Length counts nothing", async () => {
    const before = sample(await exposition(), "edgemesh_request_bytes_total", {});
    // Over a real connection, with Content-Length as sent.
    const url = new URL("/bytes", await mesh.url());
    const post = (host: string, body: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(url, { method: "POST", agent: false, headers: { host, "content-length": String(body.length) } }, (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode!));
        });
        request.on("error", reject);
        request.end(body);
      });
    expect(await post("vault.test", "x".repeat(1_000))).toBe(401);
    expect(await post("shop.test", "12345")).toBe(200);
    await waitFor("the forwarded POST's bytes at /admin/metrics", async () => sample(await exposition(), "edgemesh_request_bytes_total", {}) > before, { timeoutMs: 15_000, intervalMs: 100 });
    expect(sample(await exposition(), "edgemesh_request_bytes_total", {}) - before).toBe(5);
    expect(sample(await exposition(), "edgemesh_request_bytes_total", { route: "vault" })).toBe(0);
  });

  it("counts end users' refused tokens (RequestAuthentication) by their refusal code too", async () => {
    const valid = await endUserToken(idp);
    expect((await mesh.fetch("http://account.test/", { headers: { authorization: `Bearer ${valid}` } })).status).toBe(200);
    const before = up.received.length;
    // Two Authorization lines, as a raw client sends them (fetch would join them first).
    const twice = await mesh.raw("/", { host: "account.test", authorization: [`Bearer ${valid}`, `Bearer ${valid}`] as unknown as string });
    const inQuery = await mesh.fetch(`http://account.test/?access_token=${valid}`);
    const forged = await mesh.fetch("http://account.test/", { headers: { authorization: `Bearer ${await endUserToken(stranger)}` } });
    await Promise.all([inQuery.arrayBuffer(), forged.arrayBuffer()]);
    const refusals = await Promise.all([twice.headers["x-request-id"] as string, inQuery.headers.get("x-request-id")!, forged.headers.get("x-request-id")!].map((id) => mesh.outcomeOf(id)));
    // Refused by the end-user check (not the workload-token one), each with its code.
    expect(refusals.map((outcome) => [outcome.status, outcome.endUser, outcome.source])).toEqual([
      [401, { refused: "multiple_tokens" }, undefined],
      [401, { refused: "token_in_query" }, undefined],
      [401, { refused: "bad_signature" }, undefined],
    ]);
    expect(up.received.length).toBe(before);
    const codes = async () => {
      const text = await exposition();
      return Object.fromEntries(["multiple_tokens", "token_in_query", "bad_signature"].map((code) => [code, sample(text, "edgemesh_unauthenticated_total", { route: "account", code })]));
    };
    let counted: Record<string, number> = {};
    await waitFor("the end users' refusals at /admin/metrics", async () => {
      counted = await codes();
      return Object.values(counted).reduce((sum, count) => sum + count, 0) >= 3;
    }, { timeoutMs: 15_000, intervalMs: 100 }).catch((error: Error) => {
      throw new Error(`${error.message}; counted ${JSON.stringify(counted)}`);
    });
    expect(counted).toEqual({ multiple_tokens: 1, token_in_query: 1, bad_signature: 1 });
    // Every refusal on the route is one of the three (the accepted token is no refusal).
    expect(sample(await exposition(), "edgemesh_unauthenticated_total", { route: "account" })).toBe(3);
  });
});

describe("metrics across a restart", () => {
  it("keeps the windowed counts once the write interval has passed (many reports, written by the shard's alarm); the exposition's counters start again from zero", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-metrics-"));
    const options = { isolates: 1, persistDir: dir, vars: { METRICS_FLUSH_INTERVAL_MS: "50" } };
    const policies = [backend("up", [up.url]), simpleRoute("shop", "shop.test", "up")];
    try {
      const first = await TestGateway.start(policies, options);
      try {
        // A report every 50 ms or so (the pauses make it a dozen or more), all within about one write interval.
        for (let i = 0; i < 40; i++) {
          expect((await first.fetch("http://shop.test/ok")).status).toBe(200);
          if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
        }
        await waitFor("the 40 requests at /admin/metrics", async () => sample(await exposition(first), "edgemesh_requests_total", { destination_service: "up" }) === 40, { timeoutMs: 15_000, intervalMs: 100 });
        // The last report is in; its write alarm fires at most PERSIST_INTERVAL_MS after it.
        await new Promise((resolve) => setTimeout(resolve, PERSIST_INTERVAL_MS + 2_000));
      } finally {
        await first.dispose();
      }

      const second = await TestGateway.start(policies, options);
      try {
        // The minute rows are kept (the service graph's window, SLOs).
        const graph = (await second.admin<{ edges: { destination: string; requests: number }[] }>("GET", "/graph")).body;
        expect(graph.edges.map((edge) => edge.requests)).toEqual([40]);
        // The counters restarted with the shard, a reset Prometheus handles (a drop of the last few
        // seconds only, reloaded, would have been read as one too, and its whole past counted again).
        const text = await exposition(second);
        expect(sample(text, "edgemesh_requests_total", { destination_service: "up" })).toBe(0);
        expect((await second.fetch("http://shop.test/ok")).status).toBe(200);
        await waitFor("the new request at /admin/metrics", async () => sample(await exposition(second), "edgemesh_requests_total", { destination_service: "up" }) === 1, { timeoutMs: 15_000, intervalMs: 100 });
      } finally {
        await second.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
