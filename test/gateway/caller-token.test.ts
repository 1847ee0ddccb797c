/**
 * The callee can verify the mesh: toward each upstream the gateway attaches the Issuer-signed token
 * for that (caller, destination) pair, and a Node origin checks it with the client module against
 * the gateway's real /.well-known/jwks.json. A client's own copy of the header never gets through.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { meshVerifier } from "../../client/mesh-identity.ts";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { CALLER, TRUST_DOMAIN } from "../support/tokens.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { exchangedToken } from "../support/workload-token.ts";

const CALLER_HEADER = "edgemesh-caller-token";
const GATEWAY_ID = `spiffe://${TRUST_DOMAIN}/ns/edgemesh/sa/gateway`;
const idOf = (name: string, namespace = "default") => `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${name}`;
let details: Upstream;
let ratings: Upstream;
let mesh: TestGateway;
let jwksUrl: string;

beforeAll(async () => {
  [details, ratings] = await Promise.all([Upstream.start("details"), Upstream.start("ratings")]);
  mesh = await TestGateway.start(
    [backend("details", [details.url]), backend("ratings", [ratings.url]), simpleRoute("details", "details.test", "details"), simpleRoute("ratings", "ratings.test", "ratings")],
    { isolates: 1, vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN }, callers: [{ name: "productpage", props: { service: "productpage" } }] },
  );
  jwksUrl = `${(await mesh.url()).replace(/\/$/, "")}/.well-known/jwks.json`;
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([details?.close(), ratings?.close()]);
});

const originFor = (name: string) => meshVerifier({ jwksUrl, audience: idOf(name), trustDomain: TRUST_DOMAIN });

async function received(response: Response): Promise<Echo> {
  expect(response.status).toBe(200);
  return (await response.json()) as Echo;
}

describe("the mesh's token toward the upstream", () => {
  it("names the caller (a workload token's subject) and the destination; the origin verifies it with the client module", async () => {
    const issuer = await mesh.durableObject("ISSUER", "issuer");
    const workload = await exchangedToken(issuer, CALLER);
    const echo = await received(await mesh.fetch("http://details.test/", { headers: { "edgemesh-workload-token": workload.token } }));
    const token = echo.headers[CALLER_HEADER] as string;
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const verified = await originFor("details").verify(echo.headers);
    expect(verified.ok && verified.token.subject.id).toBe(CALLER);
    // For details only: another service refuses it.
    expect(await originFor("ratings").verify(echo.headers)).toMatchObject({ ok: false, reason: "wrong_audience" });
  });

  it("is cached per (caller, destination): the same token for the same pair, another for another destination", async () => {
    const first = await received(await mesh.fetchAs("productpage", "http://details.test/"));
    const again = await received(await mesh.fetchAs("productpage", "http://details.test/"));
    const elsewhere = await received(await mesh.fetchAs("productpage", "http://ratings.test/"));
    expect(again.headers[CALLER_HEADER]).toBe(first.headers[CALLER_HEADER]);
    expect(elsewhere.headers[CALLER_HEADER]).not.toBe(first.headers[CALLER_HEADER]);
    const verified = await originFor("ratings").verify(elsewhere.headers);
    expect(verified.ok && verified.token.subject.id).toBe(idOf("productpage"));
  });

  it("an anonymous caller is vouched for by the gateway itself; a client's own copy of the header is replaced", async () => {
    const echo = await received(await mesh.fetch("http://details.test/", { headers: { [CALLER_HEADER]: "forged.by.client" } }));
    expect(echo.headers[CALLER_HEADER]).not.toBe("forged.by.client");
    const verified = await originFor("details").verify(echo.headers);
    expect(verified.ok && verified.token.subject.id).toBe(GATEWAY_ID);
  });

  it("an origin refuses what did not come through the mesh", async () => {
    const origin = originFor("details");
    expect(await origin.verify({})).toMatchObject({ ok: false, reason: "missing_token" });
    expect(await origin.verify({ [CALLER_HEADER]: ["a.b.c", "d.e.f"] })).toMatchObject({ ok: false, reason: "multiple_tokens" });
    expect(await origin.verify(new Headers({ [CALLER_HEADER]: "forged.by.client" }))).toMatchObject({ ok: false, reason: "non_canonical_encoding" });
  });
});
