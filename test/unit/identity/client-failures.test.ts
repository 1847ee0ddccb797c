/**
 * The client module when the gateway fails it: a real loopback server stands in for the gateway's
 * /edgemesh/token and /.well-known/jwks.json and answers as a test tells it to. A token is renewed
 * with a bounded number of exchanges, a still-valid one is sent when renewal fails, a fetch that
 * throws at once does not stick, an error page shows its status, and the JWKS refresh hint is bounded.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { REFRESH_RETRY_MS, meshVerifier } from "../../../client/mesh-identity.ts";
import { FAILED_EXCHANGE_HOLD_MS, RETRY_AFTER_MS, workloadTokens } from "../../../client/workload-tokens.ts";
import { singleFlight } from "../../../common/single-flight.ts";
import { AUDIENCE, bundleOf, makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../../support/tokens.ts";

const SPIFFE_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews`;
let server: Server;
let base: string;
let key: TestKey;
/** How the server answers: a token of `lifetimeS`, a status without one, or an HTML error page. */
let mode: { kind: "token"; lifetimeS: number } | { kind: "fail"; status: number } | { kind: "html" } | { kind: "redirect" } = { kind: "token", lifetimeS: 300 };
let redirected = 0;
let jwks: () => { status: number; body: unknown } = () => ({ status: 200, body: bundleOf([key]) });
const hits = { token: 0, jwks: 0 };
/** The gateway's clock, which the tests move; the client's clock may be set apart from it. */
const clock = { gatewayMs: 1_800_000_000_000, clientOffsetMs: 0 };
const clientNow = () => clock.gatewayMs + clock.clientOffsetMs;

beforeAll(async () => {
  key = await makeKey();
  server = createServer(async (request, response) => {
    if (request.url === "/.well-known/jwks.json") {
      hits.jwks++;
      const { status, body } = jwks();
      return response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    }
    if (request.url === "/elsewhere") return void (redirected++, response.writeHead(200).end("{}"));
    hits.token++;
    if (mode.kind === "redirect") return response.writeHead(307, { location: `${base}/elsewhere` }).end();
    if (mode.kind === "html") return response.writeHead(502, { "content-type": "text/html" }).end("<html>bad gateway</html>");
    if (mode.kind === "fail") return response.writeHead(mode.status, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "issuer unavailable" } }));
    const nowS = Math.floor(clock.gatewayMs / 1000);
    const token = await validToken(key, nowS, { exp: nowS + mode.lifetimeS, jti: `j${hits.token}` });
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expiresAt: (nowS + mode.lifetimeS) * 1000 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  mode = { kind: "token", lifetimeS: 300 };
  jwks = () => ({ status: 200, body: bundleOf([key]) });
  hits.token = hits.jwks = 0;
  redirected = 0;
  clock.clientOffsetMs = 0;
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});

const tokens = (fetchImpl?: typeof fetch) => workloadTokens({ gatewayUrl: base, spiffeId: SPIFFE_ID, credential: "c".repeat(43), now: clientNow, ...(fetchImpl && { fetch: fetchImpl }) });

describe("workload tokens when the gateway fails", () => {
  it("a fetch that throws at once does not stay the answer: the next call exchanges", async () => {
    let calls = 0;
    const flaky: typeof fetch = (input, init) => {
      if (calls++ === 0) throw new TypeError("bad init");
      return fetch(input, init);
    };
    const identity = tokens(flaky);
    await expect(identity.token()).rejects.toThrow("bad init");
    clock.gatewayMs += FAILED_EXCHANGE_HOLD_MS;
    expect(typeof (await identity.token())).toBe("string");
    expect(hits.token).toBe(1);
  });

  it("after half its life, a failing renewal is tried once per RETRY_AFTER_MS while the token serves", async () => {
    const identity = tokens();
    const first = await identity.token();
    mode = { kind: "fail", status: 503 };
    clock.gatewayMs += 160_000;
    for (let i = 0; i < 100; i++) expect(await identity.token()).toBe(first);
    await vi.waitFor(() => expect(hits.token).toBe(2));
    for (let i = 0; i < 100; i++) await identity.token();
    expect(hits.token).toBe(2);
    clock.gatewayMs += RETRY_AFTER_MS;
    await identity.token();
    await vi.waitFor(() => expect(hits.token).toBe(3));
    // Past the margin and the exchange failing: the token is still sent until it expires, then not.
    clock.gatewayMs += 300_000 - 160_000 - RETRY_AFTER_MS - 10_000;
    expect(await identity.token()).toBe(first);
    clock.gatewayMs += 20_000;
    await expect(identity.token()).rejects.toThrow("token exchange refused (503): issuer unavailable");
  });

  it("a short-lived token, or a client clock set ahead of the gateway's, is still cached", async () => {
    mode = { kind: "token", lifetimeS: 20 };
    const short = tokens();
    const first = await short.token();
    for (let i = 0; i < 10; i++) expect(await short.token()).toBe(first);
    expect(hits.token).toBe(1);
    mode = { kind: "token", lifetimeS: 300 };
    clock.clientOffsetMs = 120_000;
    const ahead = tokens();
    const token = await ahead.token();
    clock.gatewayMs += 60_000;
    expect(await ahead.token()).toBe(token);
    expect(hits.token).toBe(2);
  });

  it("with no token, a gateway that is away is asked once per FAILED_EXCHANGE_HOLD_MS, and its error page's status shows", async () => {
    mode = { kind: "html" };
    const identity = tokens();
    const answers = await Promise.allSettled(Array.from({ length: 50 }, () => identity.token()));
    for (let i = 0; i < 20; i++) await identity.token().catch(() => undefined);
    expect(hits.token).toBe(1);
    expect(answers.every((answer) => answer.status === "rejected" && String(answer.reason).includes("token exchange refused (502): the answer is not the gateway's"))).toBe(true);
    clock.gatewayMs += FAILED_EXCHANGE_HOLD_MS;
    await identity.token().catch(() => undefined);
    expect(hits.token).toBe(2);
  });
});

describe("workload tokens: where the credential goes, and a fetch that never settles", () => {
  it("follows no redirect with the credential: a 3xx is a failed exchange", async () => {
    mode = { kind: "redirect" };
    await expect(tokens().token()).rejects.toThrow("token exchange refused (307)");
    expect(redirected).toBe(0);
  });

  it("an exchange whose fetch never settles frees its slot after the bound: the next call exchanges", async () => {
    let calls = 0;
    const hanging: typeof fetch = (input, init) => (calls++ === 0 ? new Promise<Response>(() => undefined) : fetch(input, init));
    const identity = workloadTokens({ gatewayUrl: base, spiffeId: SPIFFE_ID, credential: "c".repeat(43), now: clientNow, fetch: hanging, fetchTimeoutMs: 50 });
    await expect(identity.token()).rejects.toThrow("no answer within 1050 ms");
    clock.gatewayMs += FAILED_EXCHANGE_HOLD_MS;
    expect(typeof (await identity.token())).toBe("string");
    expect(calls).toBe(2);
  });
});

describe("the verifier's JWKS refresh", () => {
  it("takes the refresh hint within 300 s, and after a failed refresh waits REFRESH_RETRY_MS", async () => {
    jwks = () => ({ status: 200, body: { ...bundleOf([key]), spiffe_refresh_hint: 1_296_000 } });
    const mesh = meshVerifier({ jwksUrl: `${base}/.well-known/jwks.json`, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: clientNow });
    const headers = (nowS: number) => validToken(key, nowS, { jti: `v${nowS}` }).then((token) => ({ "edgemesh-caller-token": token }));
    expect((await mesh.verify(await headers(Math.floor(clock.gatewayMs / 1000)))).ok).toBe(true);
    expect(hits.jwks).toBe(1);
    clock.gatewayMs += 300_000;
    jwks = () => ({ status: 503, body: {} });
    await mesh.verify(await headers(Math.floor(clock.gatewayMs / 1000)));
    await vi.waitFor(() => expect(hits.jwks).toBe(2));
    for (let i = 0; i < 20; i++) await mesh.verify(await headers(Math.floor(clock.gatewayMs / 1000) - i - 1));
    expect(hits.jwks).toBe(2);
    clock.gatewayMs += REFRESH_RETRY_MS;
    await mesh.verify(await headers(Math.floor(clock.gatewayMs / 1000)));
    await vi.waitFor(() => expect(hits.jwks).toBe(3));
  });
});

describe("singleFlight", () => {
  it("shares a run, and clears a run that failed before its first await", async () => {
    let runs = 0;
    const flight = singleFlight(async () => {
      runs++;
      if (runs === 1) throw new Error("at once");
      await new Promise((resolve) => setTimeout(resolve, 5));
      return runs;
    });
    await expect(flight.run()).rejects.toThrow("at once");
    expect(flight.running).toBe(false);
    const [a, b] = await Promise.all([flight.run(), flight.run()]);
    expect([a, b, runs]).toEqual([2, 2, 2]);
  });

  it("abandons a run that never settles after abandonAfterMs", async () => {
    const flight = singleFlight(() => new Promise<never>(() => undefined), 20);
    void flight.run();
    expect(flight.running).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(flight.running).toBe(false);
  });
});
