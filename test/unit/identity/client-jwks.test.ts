/**
 * The client module's JWKS fetches while it has no keys yet: a gateway that is away (here a real
 * loopback server answering 503) costs one fetch per FIRST_FETCH_RETRY_MS, not one per request.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIRST_FETCH_RETRY_MS, meshVerifier } from "../../../client/mesh-identity.ts";
import { AUDIENCE, makeKey, TRUST_DOMAIN, validToken } from "../../support/tokens.ts";

let server: Server;
let fetches = 0;
let jwksUrl: string;

beforeAll(async () => {
  server = createServer((_request, response) => {
    fetches++;
    response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  jwksUrl = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the client module before its first JWKS", () => {
  it("fetches at most once per FIRST_FETCH_RETRY_MS while the JWKS fails, refusing the calls in between", async () => {
    const clock = { ms: 1_800_000_000_000 };
    const mesh = meshVerifier({ jwksUrl, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: () => clock.ms });
    const token = await validToken(await makeKey(), Math.floor(clock.ms / 1000));
    const headers = { "edgemesh-caller-token": token };
    const results = await Promise.all(Array.from({ length: 50 }, () => mesh.verify(headers)));
    for (let i = 0; i < 50; i++) expect((await mesh.verify(headers)).ok).toBe(false);
    expect(results.every((result) => !result.ok && result.reason === "no_jwks")).toBe(true);
    expect(fetches).toBe(1);
    clock.ms += FIRST_FETCH_RETRY_MS;
    await mesh.verify(headers);
    await mesh.verify(headers);
    expect(fetches).toBe(2);
  });
});
