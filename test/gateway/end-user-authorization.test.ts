/**
 * RequestAuthentication and AuthorizationPolicy together: a valid end-user token gives the request a
 * requestPrincipal ("<iss>/<sub>") and claims, which ALLOW rules can require; a missing token leaves
 * none (so the ALLOW denies); claims decide per operation.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";

const ISSUER = "https://idp.test";
let orders: Upstream;
let mesh: TestGateway;
let privateKey: CryptoKey;

const token = (sub: string, groups: string[]) =>
  new SignJWT({ iss: ISSUER, aud: "orders", sub, groups, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "JWT" })
    .sign(privateKey);

beforeAll(async () => {
  orders = await Upstream.start("orders");
  const pair = await generateKeyPair("ES256", { extractable: true });
  privateKey = pair.privateKey;
  const target = [{ group: "edgemesh.dev", kind: "Backend", name: "orders" }];
  mesh = await TestGateway.start([
    backend("orders", [orders.url]),
    simpleRoute("orders", "orders.test", "orders"),
    {
      apiVersion: "edgemesh.dev/v1alpha1",
      kind: "RequestAuthentication",
      metadata: { name: "orders-users" },
      spec: { targetRefs: target, jwtRules: [{ issuer: ISSUER, audiences: ["orders"], jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" }] } }] },
    },
    {
      apiVersion: "edgemesh.dev/v1alpha1",
      kind: "AuthorizationPolicy",
      metadata: { name: "orders-users" },
      spec: {
        targetRefs: target,
        rules: [
          // Any signed-in user may read; only admins may delete; one user never.
          { from: [{ source: { requestPrincipals: [`${ISSUER}/*`], notRequestPrincipals: [`${ISSUER}/banned`] } }], to: [{ operation: { methods: ["GET"] } }] },
          { from: [{ source: { requestPrincipals: ["*"] } }], to: [{ operation: { methods: ["DELETE"] } }], when: [{ key: "request.auth.claims[groups]", values: ["admins"] }] },
        ],
      },
    },
  ]);
});

afterAll(async () => {
  await mesh?.dispose();
  await orders?.close();
});

const call = async (method: string, bearer?: string) => {
  const before = orders.received.length;
  const response = await mesh.fetch("http://orders.test/orders/1", { method, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const body = (await response.json()) as { error?: { reason: string; message: string } };
  return { status: response.status, reached: orders.received.length > before, body };
};

describe("end-user principals in authorization", () => {
  it("a signed-in user may read; without a token there is no requestPrincipal and the ALLOW denies", async () => {
    expect(await call("GET", await token("alice", ["staff"]))).toMatchObject({ status: 200, reached: true });
    const anonymous = await call("GET");
    expect(anonymous).toMatchObject({ status: 403, reached: false, body: { error: { reason: "denied" } } });
    expect(anonymous.body.error!.message).toContain("default/orders-users");
  });

  it("claims decide per operation, and notRequestPrincipals excludes one user", async () => {
    expect(await call("DELETE", await token("alice", ["staff"]))).toMatchObject({ status: 403, reached: false });
    expect(await call("DELETE", await token("bob", ["staff", "admins"]))).toMatchObject({ status: 200, reached: true });
    expect(await call("GET", await token("banned", ["admins"]))).toMatchObject({ status: 403, reached: false });
  });

  it("an invalid token is 401 before authorization, never 403", async () => {
    const forged = (await token("alice", ["admins"])).slice(0, -4) + "AAAA";
    expect(await call("GET", forged)).toMatchObject({ status: 401, reached: false });
  });
});
