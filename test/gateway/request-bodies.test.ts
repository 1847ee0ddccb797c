/**
 * Request bodies over real HTTP connections: a client that stalls its upload, Expect: 100-continue
 * (what curl sends with every upload over 1 MiB), and failures of the gateway's own that must not be
 * held against a healthy endpoint.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let up: Upstream;
let b1: Upstream;
let b2: Upstream;
let gateway: TestGateway;

const replayable = { retry: { numRetries: 1, retryOn: { triggers: ["reset"] } } };

beforeAll(async () => {
  [up, b1, b2] = await Promise.all([Upstream.start("up"), Upstream.start("b1"), Upstream.start("b2")]);
  gateway = await TestGateway.start([
    backend("up", [up.url]),
    // A PUT with a retry policy: the body is buffered for replay (up to 64 KiB).
    simpleRoute("buffered", "buffered.test", "up", { timeouts: { request: "1s" } }),
    trafficPolicy("buffered", { kind: "HTTPRoute", name: "buffered" }, replayable),
    // No retries: the body streams through.
    simpleRoute("streamed", "streamed.test", "up", { timeouts: { request: "1s" } }),
    // The same two, with the default request timeout (15 s): an Expect: 100-continue client waits a
    // second of it (workerd sends no 100 Continue; a Worker cannot send a 1xx).
    simpleRoute("upload", "upload.test", "up"),
    trafficPolicy("upload", { kind: "HTTPRoute", name: "upload" }, replayable),
    simpleRoute("stream-upload", "stream-upload.test", "up"),
    // Retries of any status, bodies up to 16 MiB held for them: two stalled uploads that declare 16 MiB fill the isolate's 32 MiB.
    simpleRoute("big-buffers", "big-buffers.test", "up", { timeouts: { request: "4s" } }),
    trafficPolicy("big-buffers", { kind: "HTTPRoute", name: "big-buffers" }, {
      retry: { numRetries: 1, retryOn: { triggers: ["5xx"] }, bufferLimitBytes: 16 * 1024 * 1024, perRetry: { backOff: { baseInterval: "10ms", maxInterval: "10ms" } } },
    }),
    backend("pair", [b1.url, b2.url]),
    simpleRoute("pair", "pair.test", "pair"),
    trafficPolicy("pair", { kind: "Backend", name: "pair" }, { healthCheck: { passive: { consecutive5XxErrors: 2, maxEjectionPercent: 50 } } }),
  ], { isolates: 1 });
});

afterEach(() => {
  for (const upstream of [up, b1, b2]) upstream.release().reset();
});

afterAll(async () => {
  await gateway.dispose();
  await Promise.all([up, b1, b2].map((upstream) => upstream.close()));
});

describe("a client that stalls its upload", () => {
  it("gets 408 request_body_timeout within the request timeout when its body is being buffered", async () => {
    const answer = await gateway.stalledUpload("/", { headers: { host: "buffered.test" }, sent: "12345", declaredLength: 100, boundMs: 10_000 });
    expect(answer, "no answer within 10 s").toBeDefined();
    expect(answer!.status).toBe(408);
    expect(answer!.headers["x-edgemesh-reason"]).toBe("request_body_timeout");
    expect(JSON.parse(answer!.body).error).toMatchObject({ status: 408, reason: "request_body_timeout", message: "the request body did not arrive within the request timeout (1000 ms)" });
    expect(answer!.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect(up.received).toHaveLength(0);
  });

  it("is ended by the request timeout when its body streams through", async () => {
    const answer = await gateway.stalledUpload("/", { headers: { host: "streamed.test" }, sent: "12345", declaredLength: 100, boundMs: 10_000 });
    expect(answer, "no answer within 10 s").toBeDefined();
    expect(answer!.status).toBe(504);
    expect(answer!.headers["x-edgemesh-reason"]).toBe("request_timeout");
  });

  it("counts reading a buffered body against the request timeout, from the request's arrival", async () => {
    // 600 ms to send the body, then 600 ms at the upstream: over the 1 s request timeout together.
    up.next(1, { kind: "delay", ms: 600 });
    const answer = await gateway.stalledUpload("/", { headers: { host: "buffered.test" }, sent: "12345", declaredLength: 10, then: { afterMs: 600, sent: "67890" }, boundMs: 10_000 });
    expect(answer?.status).toBe(504);
    expect(answer!.headers["x-edgemesh-reason"]).toBe("request_timeout");
    expect(up.received.map((r) => r.body)).toEqual(["1234567890"]);
  });
});

/** A PUT with Expect: 100-continue that sends its body on 100 Continue, or after 1 s without one (as curl does). */
async function uploadExpectingContinue(host: string, body: string): Promise<{ status: number; echo: Echo }> {
  const url = new URL("/upload", await gateway.url());
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "PUT", headers: { host, expect: "100-continue", "content-length": String(body.length) } }, (response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, echo: JSON.parse(text) as Echo }));
    });
    request.on("error", reject);
    let sent = false;
    const send = () => void (sent || ((sent = true), request.end(body)));
    request.on("continue", send);
    setTimeout(send, 1000);
  });
}

describe("Expect: 100-continue", () => {
  it("uploads, streamed and buffered, and the upstream sees neither Expect nor a failure", async () => {
    for (const host of ["stream-upload.test", "upload.test"]) {
      const { status, echo } = await uploadExpectingContinue(host, "hello");
      expect(status, host).toBe(200);
      expect(echo.body).toBe("hello");
      expect(echo.headers.expect).toBeUndefined();
    }
  });

  it("works for curl -T of a file over 1 MiB, which sends it on its own", async (context) => {
    const curl = await promisify(execFile)("curl", ["--version"]).catch(() => undefined);
    if (!curl) return context.skip("curl is not installed");
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-upload-"));
    try {
      const file = join(dir, "big.bin");
      const size = 1536 * 1024;
      writeFileSync(file, "a".repeat(size));
      for (const host of ["stream-upload.test", "upload.test"]) {
        const { stdout, stderr } = await promisify(execFile)(
          "curl",
          ["-sS", "-v", "--max-time", "20", "-T", file, "-H", `Host: ${host}`, "-o", join(dir, "out.json"), "-w", "%{http_code}", `${await gateway.url()}/upload`],
          { maxBuffer: 16 * 1024 * 1024 },
        );
        expect(stderr, "curl sent Expect: 100-continue").toMatch(/^> Expect: 100-continue/im);
        expect(stdout, host).toBe("200");
        const echo = JSON.parse(readFileSync(join(dir, "out.json"), "utf8")) as Echo;
        expect(echo.body.length).toBe(size);
        expect(echo.headers["content-length"]).toBe(String(size));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Bytes written as they are over a real connection (fetch() refuses a GET with a body; Node's client frames only some). */
async function rawRequest(head: string, body = ""): Promise<{ status: number; reason: string | undefined; text: string }> {
  const { port, hostname } = new URL(await gateway.url());
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`${head}\r\nConnection: close\r\n\r\n${body}`));
    let raw = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("data", (chunk: Buffer) => (raw += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const [headers = "", text = ""] = raw.split("\r\n\r\n", 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]);
      const reason = /^x-edgemesh-reason: (.*)$/im.exec(headers)?.[1];
      // The echo's JSON, chunked or not: from the first brace to the last.
      resolve({ status, reason, text: text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1) });
    });
  });
}

describe("a GET or HEAD with a body", () => {
  it("is refused as the client's mistake (400), never sent, and no endpoint is blamed; an empty one is dropped", async () => {
    const sent = [
      ["GET / HTTP/1.1\r\nHost: pair.test\r\nContent-Length: 5", "hello"],
      ["GET / HTTP/1.1\r\nHost: pair.test\r\nTransfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"],
      ["HEAD / HTTP/1.1\r\nHost: pair.test\r\nContent-Length: 5", "hello"],
    ] as const;
    for (let i = 0; i < 6; i++) {
      for (const [head, body] of sent) {
        const answer = await rawRequest(head, body);
        expect(answer.status, head).toBe(400);
        expect(answer.reason).toBe("invalid_request");
        if (head.startsWith("GET")) expect(JSON.parse(answer.text).error.message).toBe("a GET request cannot carry a body through the mesh (send it with POST, or without a body)");
      }
    }
    expect(b1.received.length + b2.received.length).toBe(0);
    // Eighteen refusals against consecutive5XxErrors: 2: both endpoints still get their share.
    const empty = await rawRequest("GET / HTTP/1.1\r\nHost: pair.test\r\nContent-Length: 0");
    expect(empty.status).toBe(200);
    expect((JSON.parse(empty.text) as Echo).method).toBe("GET");
    const servers = await Promise.all(Array.from({ length: 10 }, async () => ((await (await gateway.fetch("http://pair.test/")).json()) as Echo).server));
    expect(new Set(servers)).toEqual(new Set(["b1", "b2"]));
  });
});

describe("the isolate's budget for held bodies", () => {
  it("streams a body once, unretried, while others hold the isolate's 32 MiB, and holds it again once they are answered", async () => {
    const MiB16 = 16 * 1024 * 1024;
    const attemptsOfSmallPut = async () => {
      const response = await gateway.fetch("http://big-buffers.test/", { method: "PUT", body: "small" });
      await response.arrayBuffer();
      return response.headers.get("x-edgemesh-attempts");
    };
    up.setAlways({ kind: "status", status: 503 });
    expect(await attemptsOfSmallPut()).toBe("2");
    const held = async () => (await gateway.admin<{ isolate: { heldBodyBytes: number } }>("GET", "/status")).body.isolate.heldBodyBytes;
    // Declaring 16 MiB holds nothing: the budget counts bytes as they arrive.
    const declaredOnly = [0, 1].map(() => gateway.stalledUpload("/", { headers: { host: "big-buffers.test" }, sent: "12345", declaredLength: MiB16, boundMs: 10_000 }));
    await waitFor("the two 5-byte starts held", async () => (await held()) === 10, { timeoutMs: 5_000, intervalMs: 20 });
    expect(await attemptsOfSmallPut()).toBe("2");
    for (const answer of await Promise.all(declaredOnly)) expect(answer?.status).toBe(408);
    expect(await held()).toBe(0);
    // Two uploads that send all but 2 bytes of 16 MiB each, then stall, hold 32 MiB less 4 bytes.
    const stalled = [0, 1].map(() => gateway.stalledUpload("/", { headers: { host: "big-buffers.test" }, sent: "x".repeat(MiB16 - 2), declaredLength: MiB16, boundMs: 10_000 }));
    await waitFor("both stalled uploads held", async () => (await held()) === 2 * (MiB16 - 2), { timeoutMs: 5_000, intervalMs: 20 });
    expect(await attemptsOfSmallPut()).toBe("1");
    for (const answer of await Promise.all(stalled)) expect(answer?.status).toBe(408);
    // Their answers gave their holds back.
    expect(await held()).toBe(0);
    expect(await attemptsOfSmallPut()).toBe("2");
    expect(await attemptsOfSmallPut()).toBe("2");
  });

  it("streams a body whose Content-Length is over the limit at once, without holding or reading it first", async () => {
    up.setAlways({ kind: "status", status: 503 });
    const answer = await gateway.stalledUpload("/", { headers: { host: "big-buffers.test" }, sent: "12345", declaredLength: 16 * 1024 * 1024 + 1, boundMs: 10_000 });
    // Streamed: the upstream got the request (and the stall) at once, and the request timeout ended it; no 408 from buffering.
    expect(answer?.status).toBe(504);
    expect(answer?.headers["x-edgemesh-reason"]).toBe("request_timeout");
  });
});

describe("failures of the gateway's own", () => {
  it("are internal_error, not upstream_reset, and are not held against the endpoint", async () => {
    // workerd's fetch() hands back an interim 103 Early Hints as if it were the response, which the
    // gateway cannot copy: the endpoint answered, the gateway failed.
    b1.setAlways({ kind: "interim", status: 103 });
    const failed: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await gateway.fetch("http://pair.test/");
      const outcome = await gateway.outcomeOf(response.headers.get("x-request-id")!);
      if (outcome.endpoint !== b1.url) continue;
      expect(response.status).toBe(500);
      expect(response.headers.get("x-edgemesh-reason")).toBe("internal_error");
      failed.push(outcome.reason!);
    }
    expect(failed).toEqual(["internal_error", "internal_error", "internal_error"]);
    b1.setAlways(undefined);
    // Three failures against consecutive5XxErrors: 2 would have ejected b1; it still gets its share.
    const servers = await Promise.all(Array.from({ length: 10 }, async () => ((await (await gateway.fetch("http://pair.test/")).json()) as Echo).server));
    expect(servers.filter((server) => server === "b1").length).toBeGreaterThanOrEqual(3);
  });
});
