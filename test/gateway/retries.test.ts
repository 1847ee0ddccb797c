/** Retries: conditions, idempotency, body replay, budget and backoff, against upstreams failing on command. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let flaky: Upstream;
let steady: Upstream;
let lonely: Upstream;
let gateway: TestGateway;

const retry = (extra: Record<string, unknown> = {}) => ({
  numRetries: 2,
  retryOn: { triggers: ["gateway-error", "reset"] },
  perRetry: { backOff: { baseInterval: "40ms", maxInterval: "40ms" } },
  ...extra,
});

beforeAll(async () => {
  flaky = await Upstream.start("flaky");
  steady = await Upstream.start("steady");
  lonely = await Upstream.start("lonely");
  gateway = await TestGateway.start([
    backend("one", [flaky.url]),
    simpleRoute("one", "one.test", "one"),
    trafficPolicy("one", { kind: "Backend", name: "one" }, { retry: retry(), retryBudget: { ratio: 0, minRetriesPerSecond: 100 } }),
    backend("post", [flaky.url]),
    simpleRoute("post", "post.test", "post"),
    trafficPolicy("post", { kind: "Backend", name: "post" }, {
      retry: retry({ retryNonIdempotent: true, bufferLimitBytes: 16 }),
      retryBudget: { ratio: 0, minRetriesPerSecond: 100 },
    }),
    backend("codes", [flaky.url]),
    simpleRoute("codes", "codes.test", "codes", { retry: { codes: [429], attempts: 3, backoff: "10ms" } }),
    // The rule's codes replace the policy's triggers: 5xx would retry 503, codes [500] must not.
    backend("exact-codes", [flaky.url]),
    simpleRoute("exact-codes", "exact-codes.test", "exact-codes", { retry: { codes: [500], attempts: 2, backoff: "10ms" } }),
    trafficPolicy("exact-codes", { kind: "Backend", name: "exact-codes" }, {
      retry: retry({ retryOn: { triggers: ["5xx"] } }),
      retryBudget: { ratio: 0, minRetriesPerSecond: 100 },
    }),
    { ...backend("two", [flaky.url, steady.url]), spec: { endpoints: [{ url: flaky.url, weight: 100 }, { url: steady.url, weight: 1 }] } },
    simpleRoute("two", "two.test", "two"),
    trafficPolicy("two", { kind: "Backend", name: "two" }, { retry: retry({ numRetries: 1 }), retryBudget: { ratio: 0, minRetriesPerSecond: 100 } }),
    backend("random", [flaky.url, steady.url]),
    simpleRoute("random", "random.test", "random"),
    trafficPolicy("random", { kind: "Backend", name: "random" }, {
      loadBalancer: { type: "Random" },
      retry: retry(),
      retryBudget: { ratio: 0, minRetriesPerSecond: 100 },
    }),
    backend("budget", [lonely.url]),
    simpleRoute("budget", "budget.test", "budget"),
    trafficPolicy("budget", { kind: "Backend", name: "budget" }, {
      retry: retry({ numRetries: 1 }),
      retryBudget: { ratio: 0, minRetriesPerSecond: 1, ttl: "5s" },
    }),
    backend("parallel", [flaky.url]),
    simpleRoute("parallel", "parallel.test", "parallel"),
    trafficPolicy("parallel", { kind: "Backend", name: "parallel" }, {
      retry: retry({ numRetries: 1, perRetry: { backOff: { baseInterval: "2s", maxInterval: "2s" } } }),
      retryBudget: { ratio: 0, minRetriesPerSecond: 100 },
      circuitBreaker: { maxParallelRetries: 1 },
    }),
    backend("none", [flaky.url]),
    simpleRoute("none", "none.test", "none"),
    backend("deadline", [flaky.url]),
    simpleRoute("deadline", "deadline.test", "deadline", { timeouts: { request: "150ms" } }),
    trafficPolicy("deadline", { kind: "Backend", name: "deadline" }, {
      retry: retry({ perRetry: { backOff: { baseInterval: "400ms", maxInterval: "400ms" } } }),
      retryBudget: { ratio: 0, minRetriesPerSecond: 100 },
    }),
  ]);
});

afterEach(() => {
  for (const upstream of [flaky, steady, lonely]) upstream.reset();
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([flaky.close(), steady.close(), lonely.close()]);
});

describe("retry conditions", () => {
  it("retries a gateway error until it succeeds, and says how many attempts it took", async () => {
    flaky.failNext(2, 503);
    const response = await gateway.fetch("http://one.test/x");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edgemesh-attempts")).toBe("3");
    const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
    expect(outcome).toMatchObject({ attempts: 3, status: 200, backend: "one", route: "one" });
    expect(outcome.tries?.map((t) => t.status)).toEqual([503, 503, 200]);
  });

  it("retries connection resets", async () => {
    flaky.resetNext(1);
    const response = await gateway.fetch("http://one.test/x");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edgemesh-attempts")).toBe("2");
  });

  it("gives up after numRetries and returns the last upstream answer as it is", async () => {
    flaky.failNext(3, 502);
    const response = await gateway.fetch("http://one.test/x");
    expect(response.status).toBe(502);
    expect(response.headers.get("x-edgemesh-reason")).toBeNull();
    expect(response.headers.get("x-edgemesh-attempts")).toBe("3");
    expect(flaky.received).toHaveLength(3);
  });

  it("turns a reset on the last attempt into a synthetic 503 upstream_reset (Envoy's UR)", async () => {
    flaky.resetNext(3);
    const { status, headers, body } = await gateway.json<{ error: { reason: string } }>("http://one.test/x");
    expect(status).toBe(503);
    expect(headers.get("x-edgemesh-reason")).toBe("upstream_reset");
    expect(body.error.reason).toBe("upstream_reset");
  });

  it("answers 504 request_timeout when the request timeout ends while retries are in progress (GEP-1731)", async () => {
    // The first try fails at once; the next backoff (200-400 ms) cannot end before the 150 ms deadline.
    flaky.setAlways({ kind: "status", status: 503 });
    const { status, body } = await gateway.json<{ error: { reason: string } }>("http://deadline.test/x");
    expect(status).toBe(504);
    expect(body.error.reason).toBe("request_timeout");
    expect(flaky.received).toHaveLength(1);
  });

  it("does not retry statuses outside retryOn", async () => {
    flaky.failNext(1, 500);
    const response = await gateway.fetch("http://one.test/x");
    expect(response.status).toBe(500);
    expect(flaky.received).toHaveLength(1);
  });

  it("retries the Gateway API rule's retry.codes", async () => {
    flaky.failNext(3, 429);
    const response = await gateway.fetch("http://codes.test/x");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edgemesh-attempts")).toBe("4");
  });

  it("retries exactly the statuses in retry.codes, replacing the policy's triggers", async () => {
    flaky.failNext(2, 500);
    const retried = await gateway.fetch("http://exact-codes.test/x");
    expect(retried.status).toBe(200);
    expect(retried.headers.get("x-edgemesh-attempts")).toBe("3");
    for (const status of [503, 502]) {
      flaky.reset().failNext(1, status);
      const response = await gateway.fetch("http://exact-codes.test/x");
      expect(response.status, String(status)).toBe(status);
      expect(flaky.received, String(status)).toHaveLength(1);
    }
  });

  it("still retries a failed connection when retry.codes is set", async () => {
    flaky.resetNext(1);
    const response = await gateway.fetch("http://exact-codes.test/x");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-edgemesh-attempts")).toBe("2");
  });

  it("does not retry without a retry policy", async () => {
    flaky.failNext(1, 503);
    expect((await gateway.fetch("http://none.test/x")).status).toBe(503);
    expect(flaky.received).toHaveLength(1);
  });

  it("sends a retry to an endpoint the request has not tried yet", async () => {
    flaky.setAlways({ kind: "status", status: 503 });
    for (let i = 0; i < 30; i++) {
      const response = await gateway.fetch("http://random.test/x");
      expect(response.status).toBe(200);
      // The access log lists tries only when there was more than one.
      const { tries = [] } = await gateway.outcomeOf(response.headers.get("x-request-id")!);
      expect(new Set(tries.map((t) => t.endpoint)).size).toBe(tries.length);
    }
  });

  it("moves a retry to another endpoint even when the balancer would pick the same one again", async () => {
    // Weights 100:1: round robin alone would send nearly every retry back to the failing endpoint.
    flaky.setAlways({ kind: "status", status: 503 });
    for (let i = 0; i < 4; i++) expect((await gateway.fetch("http://two.test/x")).status).toBe(200);
    expect(steady.received.length).toBe(4);
    expect(flaky.received.length).toBe(4);
  });
});

describe("what may be retried", () => {
  it("does not retry a POST unless the policy allows non-idempotent retries", async () => {
    flaky.failNext(1, 503);
    expect((await gateway.fetch("http://one.test/x", { method: "POST", body: "x" })).status).toBe(503);
    expect(flaky.received).toHaveLength(1);
  });

  it("replays a buffered body on every attempt", async () => {
    flaky.failNext(2, 503);
    const response = await gateway.fetch("http://post.test/x", { method: "POST", body: "0123456789" });
    expect(response.status).toBe(200);
    expect(flaky.received.map((r) => r.body)).toEqual(["0123456789", "0123456789", "0123456789"]);
  });

  it("streams a body over the buffer limit once, whole, and does not retry it", async () => {
    flaky.failNext(1, 503);
    const big = "x".repeat(5000);
    const response = await gateway.fetch("http://post.test/x", { method: "POST", body: big });
    expect(response.status).toBe(503);
    expect(flaky.received.map((r) => r.body)).toEqual([big]);
    flaky.reset();
    const ok = await gateway.fetch("http://post.test/x", { method: "PUT", body: big });
    expect(((await ok.json()) as Echo).body).toBe(big);
  });
});

describe("retry budget", () => {
  it("stops retrying once retries exceed the budget, and records it", async () => {
    lonely.setAlways({ kind: "status", status: 503 });
    // ratio 0 and a floor of 1 retry/s over 5 s: five retries, then none.
    const attempts: string[] = [];
    let exhausted = 0;
    for (let i = 0; i < 8; i++) {
      const response = await gateway.fetch("http://budget.test/x");
      attempts.push(response.headers.get("x-edgemesh-attempts")!);
      const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
      if (outcome.retryBudgetExhausted) exhausted++;
    }
    expect(attempts).toEqual(["2", "2", "2", "2", "2", "1", "1", "1"]);
    expect(exhausted).toBe(3);
    expect(lonely.received).toHaveLength(13);
  });
});

describe("maxParallelRetries", () => {
  it("lets one retry at a time be in flight to the backend; the other failures are answered as they came", async () => {
    flaky.setAlways({ kind: "status", status: 503 });
    // Five at once: their first tries all fail within the one retry's backoff (at least 1 s), so exactly one retries.
    const responses = await Promise.all(Array.from({ length: 5 }, () => gateway.fetch("http://parallel.test/")));
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    expect(responses.map((response) => response.status)).toEqual([503, 503, 503, 503, 503]);
    expect(responses.map((response) => response.headers.get("x-edgemesh-attempts")).sort()).toEqual(["1", "1", "1", "1", "2"]);
    expect(flaky.received).toHaveLength(6);
  });
});

describe("backoff", () => {
  it("waits between attempts: at least half the capped interval", async () => {
    flaky.failNext(2, 503);
    await gateway.fetch("http://one.test/x");
    const [first, second, third] = flaky.received.map((r) => r.at);
    // Interval 40 ms, equal jitter: each wait is between 20 and 40 ms.
    expect(second! - first!).toBeGreaterThanOrEqual(20);
    expect(third! - second!).toBeGreaterThanOrEqual(20);
  });
});
