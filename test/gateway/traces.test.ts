/**
 * Traces: one server span per hop and one client span per attempt, exported as OTLP/HTTP JSON after
 * the response to OTEL_EXPORTER_OTLP_ENDPOINT; head sampling with errors always kept; a bounded queue.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../support/collector.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let collector: Collector;
let up: Upstream;
let relay: Server;
let mesh: TestGateway;
let unsampled: TestGateway;

/** A service that calls the next one through the mesh, passing on the traceparent it was given. */
function startRelay(gatewayUrl: () => string): Promise<Server> {
  const server = createServer((request, response) => {
    const next = new URL("/from-relay", gatewayUrl());
    const onward = httpRequest(next, { headers: { host: "b.test", traceparent: String(request.headers.traceparent ?? "") } }, (answer) => {
      answer.resume();
      answer.on("end", () => response.writeHead(answer.statusCode ?? 502).end("relayed"));
    });
    onward.on("error", () => response.writeHead(502).end());
    onward.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  collector = await Collector.start();
  up = await Upstream.start("up");
  let gatewayUrl = "";
  relay = await startRelay(() => gatewayUrl);
  const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  const policies = [
    backend("relay", [relayUrl]),
    backend("up", [up.url]),
    simpleRoute("a", "a.test", "relay"),
    simpleRoute("b", "b.test", "up"),
    simpleRoute("flaky", "flaky.test", "up"),
    trafficPolicy("flaky", { kind: "HTTPRoute", name: "flaky" }, { retry: { numRetries: 2, retryOn: { httpStatusCodes: [503], triggers: ["retriable-status-codes"] }, perRetry: { backOff: { baseInterval: "1ms", maxInterval: "2ms" } } } }),
  ];
  mesh = await TestGateway.start(policies, { vars: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "50", OTEL_BSP_MAX_QUEUE_SIZE: "100", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10" } });
  gatewayUrl = await mesh.url();
  unsampled = await TestGateway.start(policies, { vars: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "50", OTEL_TRACES_SAMPLER_ARG: "0" } });
});

afterAll(async () => {
  await mesh?.dispose();
  await unsampled?.dispose();
  await up?.close();
  relay?.closeAllConnections();
  await new Promise((resolve) => relay?.close(resolve));
  await collector?.close();
});

describe("traces", () => {
  it("links a server span per hop and a client span per attempt, parent to child, across two hops", async () => {
    const response = await mesh.fetch("http://a.test/start");
    expect(response.status).toBe(200);
    const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
    const traceId = outcome.traceId as string;
    await waitFor("four spans of the trace at the collector", () => collector.trace(traceId).length >= 4, { timeoutMs: 10_000 });
    const spans = collector.trace(traceId);
    expect(spans, JSON.stringify(spans)).toHaveLength(4);
    const servers = spans.filter((span) => span.kind === 2);
    const clients = spans.filter((span) => span.kind === 3);
    const [first, second] = [servers.find((s) => s.attributes["server.address"] === "a.test")!, servers.find((s) => s.attributes["server.address"] === "b.test")!];
    expect(first.parentSpanId).toBeUndefined();
    const firstClient = clients.find((span) => span.parentSpanId === first.spanId)!;
    // The relay passed the gateway's client span on: the second hop's server span is its child.
    expect(second.parentSpanId).toBe(firstClient.spanId);
    expect(clients.find((span) => span.parentSpanId === second.spanId)).toBeDefined();
    expect(first).toMatchObject({ service: "edgemesh-gateway", name: "GET", status: { code: 0 } });
    expect(first.attributes).toMatchObject({ "http.request.method": "GET", "url.path": "/start", "server.address": "a.test", "http.response.status_code": 200, "edgemesh.backend": "relay" });
    expect(firstClient.attributes).toMatchObject({ "server.address": "127.0.0.1", "http.response.status_code": 200 });
    expect(BigInt(first.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(first.startTimeUnixNano));
    expect(collector.requests.every((request) => request.path === "/v1/traces" && request.contentType === "application/json")).toBe(true);
  });

  it("cuts a long path to 1 024 characters in the span (OpenTelemetry's attribute length limit)", async () => {
    const path = `/start/${"p".repeat(3_000)}`;
    const response = await mesh.fetch(`http://a.test${path}`);
    expect(response.status).toBe(200);
    const traceId = (await mesh.outcomeOf(response.headers.get("x-request-id")!)).traceId as string;
    await waitFor("the trace's server span at the collector", () => collector.trace(traceId).some((span) => span.attributes["server.address"] === "a.test"), { timeoutMs: 10_000 });
    const server = collector.trace(traceId).find((span) => span.attributes["server.address"] === "a.test")!;
    expect(server.attributes["url.path"]).toBe(path.slice(0, 1_024));
  });

  it("gives each retry a client span of its own with http.request.resend_count, and the upstream saw each as its parent", async () => {
    up.failNext(2, 503);
    const before = up.received.length;
    const response = await mesh.fetch("http://flaky.test/retry");
    expect(response.status).toBe(200);
    const { traceId } = await mesh.outcomeOf(response.headers.get("x-request-id")!);
    await waitFor("the retried trace's spans", () => collector.trace(traceId as string).length >= 4, { timeoutMs: 10_000 });
    const clients = collector.trace(traceId as string).filter((span) => span.kind === 3);
    expect(clients.map((span) => span.attributes["http.request.resend_count"])).toEqual([undefined, 1, 2]);
    expect(clients.map((span) => span.status.code)).toEqual([2, 2, 0]);
    const parents = up.received.slice(before).map((seen) => String(seen.headers.traceparent).split("-")[2]);
    expect(parents).toEqual(clients.map((span) => span.spanId));
  });

  it("samples by ratio (0 here), follows the caller's sampled flag, and always keeps errors", async () => {
    const quiet = await unsampled.fetch("http://b.test/quiet");
    const quietTrace = (await unsampled.outcomeOf(quiet.headers.get("x-request-id")!)).traceId as string;
    const seen = up.received.at(-1)!;
    expect(String(seen.headers.traceparent)).toMatch(/-00$/); // the decision travels on
    const joined = await unsampled.fetch("http://b.test/joined", { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
    expect(joined.status).toBe(200);
    up.failNext(1, 500);
    const failed = await unsampled.fetch("http://b.test/failed");
    expect(failed.status).toBe(500);
    const failedTrace = (await unsampled.outcomeOf(failed.headers.get("x-request-id")!)).traceId as string;
    await waitFor("the joined and the failed traces", () => collector.trace("0af7651916cd43dd8448eb211c80319c").length >= 2 && collector.trace(failedTrace).length >= 2, { timeoutMs: 10_000 });
    expect(collector.trace(failedTrace).find((span) => span.kind === 2)!.status.code).toBe(2);
    expect(collector.trace(quietTrace)).toEqual([]);
  });

  it("drops and counts spans past the queue's bound while the collector hangs, and serves requests all the while", async () => {
    collector.hang = true;
    try {
      const statuses: number[] = [];
      // 2 spans per request; the first batch (10) hangs at the collector, past 100 queued the rest are dropped.
      for (let i = 0; i < 100; i++) statuses.push((await mesh.fetch(`http://b.test/flood-${i}`)).status);
      expect(statuses.every((status) => status === 200)).toBe(true);
      const text = await (await mesh.fetch("http://admin.test/admin/traces/stats", { headers: { authorization: "Bearer test-admin-token" } })).json() as { queued: number; dropped: number };
      expect(text.queued).toBeLessThanOrEqual(100);
      expect(text.dropped).toBeGreaterThan(0);
    } finally {
      collector.hang = false;
    }
  });
});

describe("access log and Server-Timing", () => {
  let logged: TestGateway;
  beforeAll(async () => {
    logged = await TestGateway.start([backend("up", [up.url]), simpleRoute("b", "b.test", "up")], { vars: { ACCESS_LOG_SAMPLE_RATIO: "0", SERVER_TIMING: "on" } });
  });
  afterAll(async () => {
    await logged?.dispose();
  });

  it("samples successful requests' lines (0 here) but always logs errors, with trace and span ids", async () => {
    const ok = await logged.fetch("http://b.test/ok");
    expect(ok.status).toBe(200);
    up.failNext(1, 503);
    const failed = await logged.fetch("http://b.test/failed");
    expect(failed.status).toBe(503);
    const missing = await logged.fetch("http://nowhere.test/");
    expect(missing.status).toBe(404);
    const failedLine = await logged.outcomeOf(failed.headers.get("x-request-id")!);
    expect(failedLine).toMatchObject({ status: 503, traceId: expect.stringMatching(/^[0-9a-f]{32}$/), spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    await logged.outcomeOf(missing.headers.get("x-request-id")!);
    expect(logged.outcomes.find((line) => line.requestId === ok.headers.get("x-request-id"))).toBeUndefined();
  });

  it("answers with Server-Timing: the mesh's own time and the upstream's", async () => {
    const response = await logged.fetch("http://b.test/timed");
    expect(response.headers.get("server-timing")).toMatch(/^edgemesh;dur=[0-9]+;desc="mesh", upstream;dur=[0-9]+$/);
  });
});

describe("Workers Analytics Engine", () => {
  let analytics: TestGateway;
  beforeAll(async () => {
    analytics = await TestGateway.start([backend("up", [up.url]), simpleRoute("b", "b.test", "up")], { analytics: true });
  });
  afterAll(async () => {
    await analytics?.dispose();
  });

  it("gets one data point per request, laid out as sinks/analytics.ts says", async () => {
    const response = await analytics.fetch("http://b.test/point");
    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id")!;
    await waitFor("the data point", () => analytics.analytics.some((point) => point.blobs?.[7] === requestId), { timeoutMs: 10_000 });
    const point = analytics.analytics.find((p) => p.blobs?.[7] === requestId)!;
    expect(point.indexes).toEqual(["up"]);
    expect(point.blobs!.slice(0, 5)).toEqual(["b", "up", up.url, "200", ""]);
    expect(point.blobs![6]).toBe("GET");
    expect(point.doubles![1]).toBe(1);
    expect(analytics.analytics.filter((p) => p.blobs?.[7] === requestId)).toHaveLength(1);
  });
});
