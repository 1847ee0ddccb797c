/**
 * HTTP origins get their identity by exchanging a bootstrap credential (kept hashed by the mesh) at
 * the gateway for a short-lived workload token; the client module does it for them, caches the
 * token and renews it before it expires.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workloadTokens } from "../../client/workload-tokens.ts";
import { credentialHash, generateSecret } from "../../common/identity/credentials.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { TRUST_DOMAIN } from "../support/tokens.ts";
import { Upstream } from "../support/upstream.ts";

const REVIEWS = `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews`;
const secret = generateSecret();
let ratings: Upstream;
let mesh: TestGateway;
let gatewayUrl: string;

beforeAll(async () => {
  ratings = await Upstream.start("ratings");
  mesh = await TestGateway.start(
    [{ ...backend("ratings", [ratings.url]), spec: { endpoints: [{ url: ratings.url }], peerAuthentication: { mode: "STRICT" } } }, simpleRoute("ratings", "ratings.test", "ratings")],
    { isolates: 1, vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_WORKLOAD_CREDENTIALS: JSON.stringify({ [REVIEWS]: await credentialHash(secret) }) } },
  );
  gatewayUrl = (await mesh.url()).replace(/\/$/, "");
});

afterAll(async () => {
  await mesh?.dispose();
  await ratings?.close();
});

const exchange = (body: unknown, init: RequestInit = {}) =>
  fetch(`${gatewayUrl}/edgemesh/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...init });

describe("the token exchange", () => {
  it("gives a workload token for a valid credential, which passes STRICT as that identity", async () => {
    const response = await exchange({ spiffeId: REVIEWS, credential: secret });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const { token, expiresAt } = (await response.json()) as { token: string; expiresAt: number };
    expect(expiresAt - Date.now()).toBeGreaterThan(240_000);
    const call = await mesh.fetch("http://ratings.test/", { headers: { "edgemesh-workload-token": token } });
    expect(call.status).toBe(200);
    await call.arrayBuffer();
    expect((await mesh.outcomeOf(call.headers.get("x-request-id")!)).source).toEqual({ id: REVIEWS, via: "token" });
  });

  it("answers a wrong secret, an unknown service and a short secret alike: 401", async () => {
    const message = "invalid_credential: the SPIFFE ID and credential do not match a bootstrap credential";
    for (const body of [
      { spiffeId: REVIEWS, credential: `${secret}x` },
      { spiffeId: `spiffe://${TRUST_DOMAIN}/ns/default/sa/ratings`, credential: secret },
      { spiffeId: REVIEWS, credential: "short" },
    ]) {
      const response = await exchange(body);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { message: string } }).error.message).toBe(message);
    }
    expect((await exchange({ spiffeId: REVIEWS })).status).toBe(400);
    expect((await fetch(`${gatewayUrl}/edgemesh/token`)).status).toBe(405);
    expect((await exchange({ spiffeId: REVIEWS, credential: "x".repeat(10_000) })).status).toBe(413);
  });

  it("cuts a body sent without a length at 8 KiB (413), however much follows", async () => {
    // Chunked, so there is no Content-Length to refuse up front: up to 64 MiB offered, a chunk at a
    // time, until the answer comes. workerd answers and resets the connection on the unread rest, so
    // the client sees the 413 or, when the reset overtakes it, the reset (status 0): either way the
    // gateway stopped reading (before the fix it read all 64 MiB, then answered 413).
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const limit = 64 * 1024 * 1024;
    let offered = 0;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${gatewayUrl}/edgemesh/token`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (response) => {
        let text = "";
        response.on("data", (data: Buffer) => (text += data));
        response.on("end", () => resolve({ status: response.statusCode!, body: text }));
      });
      let answered = false;
      request.on("error", (error) => (answered ? undefined : (error as NodeJS.ErrnoException).code === "ECONNRESET" && offered > 0 ? resolve({ status: 0, body: "" }) : reject(error)));
      request.on("response", () => (answered = true));
      const offer = () => {
        while (!answered && offered < limit) {
          offered += chunk.byteLength;
          if (!request.write(chunk)) return void request.once("drain", offer);
        }
        if (!answered) request.end();
      };
      offer();
    });
    expect([413, 0]).toContain(answer.status);
    if (answer.status) expect(JSON.parse(answer.body).error.reason).toBe("payload_too_large");
    // The gateway stopped reading long before the end, and still answers.
    expect(offered).toBeLessThan(limit);
    expect((await exchange({ spiffeId: REVIEWS, credential: secret })).status).toBe(200);
  });

  it("answers a body that stalls with 408 request_body_timeout after 5 s, not never", async () => {
    const answer = await mesh.stalledUpload("/edgemesh/token", { method: "POST", headers: { "content-type": "application/json" }, sent: '{"spiffeId":', declaredLength: 200, boundMs: 20_000 });
    expect(answer, "no answer within 20 s").toBeDefined();
    expect(answer!.status).toBe(408);
    expect(JSON.parse(answer!.body).error.reason).toBe("request_body_timeout");
    expect(answer!.elapsedMs).toBeGreaterThanOrEqual(5_000);
  }, 30_000);
});

describe("the client module's workload tokens", () => {
  it("exchanges once, serves the cached token, renews in the background after half its life", async () => {
    const clock = { offset: 0 };
    let exchanges = 0;
    const counting: typeof fetch = (input, init) => (exchanges++, fetch(input, init));
    const identity = workloadTokens({ gatewayUrl, spiffeId: REVIEWS, credential: secret, fetch: counting, now: () => Date.now() + clock.offset });
    const first = await identity.token();
    expect(await identity.token()).toBe(first);
    expect(exchanges).toBe(1);
    const call = await mesh.fetch("http://ratings.test/", { headers: await identity.headers() });
    expect(call.status).toBe(200);
    await call.arrayBuffer();
    // Past half-life: the current token still serves while a renewal goes out.
    clock.offset = 160_000;
    expect(await identity.token()).toBe(first);
    expect(exchanges).toBe(2);
    // Past expiry (less the margin): waits for a new one.
    clock.offset = 280_000;
    const renewed = await identity.token();
    expect(renewed).not.toBe(first);
    expect(exchanges).toBeGreaterThanOrEqual(2);
    const wrong = workloadTokens({ gatewayUrl, spiffeId: REVIEWS, credential: "wrong".repeat(10) });
    await expect(wrong.token()).rejects.toThrow("token exchange refused (401): invalid_credential");
  });
});
