/** Request and per-try timeouts, fault injection, and how they compose with retries. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";

let up: Upstream;
let gateway: TestGateway;

const backOff = { baseInterval: "10ms", maxInterval: "10ms" };

beforeAll(async () => {
  up = await Upstream.start("up");
  gateway = await TestGateway.start([
    backend("up", [up.url]),
    // Request timeout only.
    simpleRoute("slow", "slow.test", "up", { timeouts: { request: "300ms" } }),
    // Per-try timeout with retries inside a request timeout.
    simpleRoute("per-try", "per-try.test", "up", { timeouts: { request: "2s", backendRequest: "150ms" } }),
    trafficPolicy("per-try", { kind: "HTTPRoute", name: "per-try" }, {
      retry: { numRetries: 3, retryOn: { triggers: ["gateway-error"] }, perRetry: { backOff } },
    }),
    // The request timeout cuts retries short.
    simpleRoute("cut", "cut.test", "up", { timeouts: { request: "400ms", backendRequest: "150ms" } }),
    trafficPolicy("cut", { kind: "HTTPRoute", name: "cut" }, {
      retry: { numRetries: 10, retryOn: { triggers: ["gateway-error"] }, perRetry: { backOff } },
    }),
    // Faults.
    simpleRoute("abort", "abort.test", "up"),
    trafficPolicy("abort", { kind: "HTTPRoute", name: "abort" }, { faultInjection: { abort: { httpStatus: 418, percentage: 100 } } }),
    simpleRoute("abort-half", "abort-half.test", "up"),
    trafficPolicy("abort-half", { kind: "HTTPRoute", name: "abort-half" }, { faultInjection: { abort: { httpStatus: 503, percentage: 50 } } }),
    simpleRoute("abort-retried", "abort-retried.test", "up"),
    trafficPolicy("abort-retried", { kind: "HTTPRoute", name: "abort-retried" }, {
      faultInjection: { abort: { httpStatus: 503, percentage: 50 } },
      retry: { numRetries: 5, retryOn: { triggers: ["gateway-error"] }, perRetry: { backOff } },
    }),
    route("delay", { hostnames: ["delay.test"], rules: [{ backendRefs: [{ name: "up" }], timeouts: { request: "5s" } }] }),
    trafficPolicy("delay", { kind: "HTTPRoute", name: "delay" }, { faultInjection: { delay: { fixedDelay: "200ms" } } }),
    simpleRoute("delay-timeout", "delay-timeout.test", "up", { timeouts: { request: "100ms" } }),
    trafficPolicy("delay-timeout", { kind: "HTTPRoute", name: "delay-timeout" }, { faultInjection: { delay: { fixedDelay: "2s" } } }),
  ]);
});

afterEach(() => void up.reset());

afterAll(async () => {
  await gateway.dispose();
  await up.close();
});

describe("timeouts", () => {
  it("answers 504 request_timeout when the backend hangs past the request timeout", async () => {
    up.next(1, { kind: "hang" });
    const started = Date.now();
    const { status, headers, body } = await gateway.json<{ error: { reason: string; message: string } }>("http://slow.test/");
    expect(status).toBe(504);
    expect(headers.get("x-edgemesh-reason")).toBe("request_timeout");
    expect(body.error.message).toBe("no response within the request timeout (300 ms)");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("retries an attempt that hit the per-try timeout, within the request timeout", async () => {
    up.next(2, { kind: "hang" });
    const response = await gateway.fetch("http://per-try.test/");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edgemesh-attempts")).toBe("3");
    const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
    expect(outcome.tries?.map((t) => t.reason ?? t.status)).toEqual(["per_try_timeout", "per_try_timeout", 200]);
  });

  it("stops retrying when the request timeout is spent, whatever numRetries says", async () => {
    up.setAlways({ kind: "hang" });
    const response = await gateway.fetch("http://cut.test/");
    expect(response.status).toBe(504);
    expect(response.headers.get("x-edgemesh-reason")).toBe("request_timeout");
    // 400 ms of 150 ms tries and 10 ms waits: the third try is cut short by the deadline (the deadline
    // runs from the request's arrival, so on a loaded machine only two may fit). Never the 11 allowed.
    expect(up.received.length).toBeGreaterThanOrEqual(2);
    expect(up.received.length).toBeLessThanOrEqual(3);
    expect(response.headers.get("x-edgemesh-attempts")).toBe(String(up.received.length));
  });
});

describe("fault injection", () => {
  it("aborts with the configured status and a fault_abort reason, without calling the backend", async () => {
    const response = await gateway.fetch("http://abort.test/");
    expect(response.status).toBe(418);
    expect(response.headers.get("x-edgemesh-reason")).toBe("fault_abort");
    expect(up.received).toHaveLength(0);
    const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
    expect(outcome.faults).toEqual(["abort"]);
  });

  it("aborts about the configured percentage of requests", async () => {
    const statuses = await Promise.all(Array.from({ length: 400 }, () => gateway.fetch("http://abort-half.test/").then((r) => r.status)));
    const aborted = statuses.filter((status) => status === 503).length;
    // Binomial(400, 0.5): standard deviation 10; ±50 is five of them.
    expect(aborted).toBeGreaterThan(150);
    expect(aborted).toBeLessThan(250);
    expect(up.received.length).toBe(400 - aborted);
  });

  it("lets retries see an injected abort as a failing backend", async () => {
    const statuses = await Promise.all(Array.from({ length: 100 }, () => gateway.fetch("http://abort-retried.test/").then((r) => r.status)));
    // Six tries at 50 %: a request fails only if all six abort (1.6 %).
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(90);
  });

  it("delays the request by the configured time", async () => {
    const started = Date.now();
    const response = await gateway.fetch("http://delay.test/");
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect((await gateway.outcomeOf(response.headers.get("x-request-id")!)).faults).toEqual(["delay"]);
  });

  it("counts an injected delay against the request timeout", async () => {
    const response = await gateway.fetch("http://delay-timeout.test/");
    expect(response.status).toBe(504);
    expect(response.headers.get("x-edgemesh-reason")).toBe("request_timeout");
    expect(up.received).toHaveLength(0);
  });
});
