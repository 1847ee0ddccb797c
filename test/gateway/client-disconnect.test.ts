/**
 * A client that disconnects while its request waits on the upstream: the circuit breaker's slot it
 * held is given back when the attempt ends (here: the request timeout), so the backend is not left
 * counting it. On the platform a disconnected request's pending work may never resume, so the slots
 * also expire past the attempt's deadline (attempt/slots.ts, test/unit/slots.test.ts); workerd here
 * does not cancel it, so this test shows the accounting, not the cancellation.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let up: Upstream;
let gateway: TestGateway;

beforeAll(async () => {
  up = await Upstream.start("up");
  gateway = await TestGateway.start([
    backend("one", [up.url]),
    simpleRoute("one", "one.test", "one", { timeouts: { request: "1s" } }),
    trafficPolicy("one", { kind: "Backend", name: "one" }, { circuitBreaker: { maxParallelRequests: 1 } }),
  ]);
});

afterAll(async () => {
  await gateway?.dispose();
  await up?.close();
});

describe("a client that disconnects mid-request", () => {
  it("gives its circuit-breaker slot back when the attempt ends", async () => {
    up.next(1, { kind: "hang" });
    const { port, hostname } = new URL(await gateway.url());
    const socket = connect(Number(port), hostname, () => socket.write("GET / HTTP/1.1\r\nHost: one.test\r\n\r\n"));
    socket.on("error", () => undefined);
    await waitFor("the request at the upstream", () => up.received.length === 1, { timeoutMs: 5_000, intervalMs: 10 });
    socket.destroy();
    // While its attempt runs, the one slot is taken: another request overflows.
    const during = await gateway.fetch("http://one.test/");
    expect([during.status, during.headers.get("x-edgemesh-reason")]).toEqual([503, "overflow"]);
    await during.arrayBuffer();
    // After the request timeout (1 s) the slot is free again.
    await waitFor("the slot given back", async () => {
      const response = await gateway.fetch("http://one.test/");
      await response.arrayBuffer();
      return response.status === 200;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    up.release();
  });
});
