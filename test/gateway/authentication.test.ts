/**
 * Peer authentication at the gateway, against real upstreams: STRICT / PERMISSIVE / DISABLE per
 * backend, workload tokens in their own header (verified against the pinned key's bundle: no
 * control plane here), Worker callers identified by their service binding's props, and hostile
 * tokens, each refused with 401 before anything reaches the upstream, and recorded in the outcome.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { b64, CALLER, claims, makeKey, signParts, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

const HEADER = "edgemesh-workload-token";
let strict: Upstream;
let permissive: Upstream;
let disabled: Upstream;
let key: TestKey;
let mesh: TestGateway;
const nowS = () => Math.floor(Date.now() / 1000);

const withMode = (name: string, url: string, mode: string) => ({ ...backend(name, [url]), spec: { endpoints: [{ url }], peerAuthentication: { mode } } });

beforeAll(async () => {
  [strict, permissive, disabled] = await Promise.all([Upstream.start("strict"), Upstream.start("permissive"), Upstream.start("disabled")]);
  key = await makeKey();
  const policies = [
    withMode("strict", strict.url, "STRICT"),
    backend("permissive", [permissive.url]),
    withMode("disabled", disabled.url, "DISABLE"),
    simpleRoute("strict", "strict.test", "strict"),
    simpleRoute("permissive", "permissive.test", "permissive"),
    simpleRoute("disabled", "disabled.test", "disabled"),
    route("split", { hostnames: ["split.test"], rules: [{ backendRefs: [{ name: "permissive", weight: 99 }, { name: "strict", weight: 1 }] }] }),
  ];
  mesh = await TestGateway.start(policies, {
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk) },
    callers: [
      { name: "productpage", props: { service: "productpage" } },
      { name: "shop-cart", props: { service: "cart", namespace: "shop" } },
      { name: "bad-props", props: { service: "not a service" } },
      { name: "no-props" },
    ],
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([strict, permissive, disabled].map((upstream) => upstream?.close()));
});

beforeEach(() => {
  for (const upstream of [strict, permissive, disabled]) upstream.received.length = 0;
});

async function call(host: string, headers: Record<string, string> = {}, path = "/") {
  const response = await mesh.fetch(`http://${host}${path}`, { headers });
  const text = await response.text();
  const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? JSON.parse(text) : text, outcome };
}

describe("STRICT", () => {
  it("refuses a caller without identity: 401 unauthenticated, the upstream sees nothing", async () => {
    const { status, headers, body, outcome } = await call("strict.test");
    expect(status).toBe(401);
    expect(body.error).toMatchObject({ reason: "unauthenticated", message: `missing_token: no workload token was sent: this backend requires a mesh identity (send a workload token in ${HEADER})` });
    expect(headers.get("www-authenticate")).toBe('Edgemesh-Workload-Token error="missing_token"');
    expect(outcome).toMatchObject({ status: 401, reason: "unauthenticated", source: { refused: "missing_token" } });
    expect(strict.received).toHaveLength(0);
  });

  it("lets a valid token in, records the caller, and forwards neither the token nor anything but the end user's Authorization", async () => {
    const token = await validToken(key, nowS());
    const { status, body, outcome } = await call("strict.test", { [HEADER]: token, authorization: "Bearer end-user-token" });
    expect(status).toBe(200);
    const echo = body as Echo;
    expect(echo.headers[HEADER]).toBeUndefined();
    expect(echo.headers.authorization).toBe("Bearer end-user-token");
    expect(outcome.source).toEqual({ id: CALLER, via: "token" });
    // The same token again: from the verified-token cache, same answer.
    expect((await call("strict.test", { [HEADER]: token })).outcome.source).toEqual({ id: CALLER, via: "token" });
  });

  it("refuses the hostile-token catalogue with its reason; none reaches the upstream", async () => {
    const now = nowS();
    const h = { alg: "ES256", kid: key.kid, typ: "JWT" };
    const valid = await validToken(key, now);
    const payload = JSON.stringify(claims(now));
    const other = await makeKey();
    const cases: [string, string | Record<string, string>, string?][] = [
      ["alg_not_allowed", `${b64(JSON.stringify({ alg: "none", kid: key.kid }))}.${b64(payload)}.`],
      ["alg_not_allowed", await signParts(key, { ...h, alg: "HS256" }, payload)],
      ["header_not_allowed", await signParts(key, { ...h, jwk: key.publicJwk }, payload)],
      ["header_not_allowed", await signParts(key, { ...h, jku: "https://attacker.example/jwks" }, payload)],
      ["header_not_allowed", await signParts(key, { ...h, x5u: "https://attacker.example/cert" }, payload)],
      ["header_not_allowed", await signParts(key, { ...h, crit: ["b64"], b64: false }, payload)],
      ["invalid_kid", await signParts(key, { ...h, kid: "../../etc/passwd" }, payload)],
      ["unknown_kid", await validToken(other, now)],
      ["bad_signature", `${valid.slice(0, valid.lastIndexOf(".") + 1)}${"A".repeat(86)}`],
      ["missing_signature", valid.slice(0, valid.lastIndexOf(".") + 1)],
      ["expired", await validToken(key, now - 1000, { exp: now - 700 })],
      ["issued_in_future", await validToken(key, now + 600)],
      ["missing_claim", await validToken(key, now, { exp: undefined })],
      ["duplicate_key", await signParts(key, h, `${payload.slice(0, -1)},"sub":"spiffe://${TRUST_DOMAIN}/ns/default/sa/admin"}`)],
      ["non_canonical_encoding", `${valid}=`],
      ["token_too_large", await validToken(key, now, { pad: "x".repeat(5000) })],
      ["too_deeply_nested", await signParts(key, h, claims(now, { x: [[[[[1]]]]] }))],
      ["jwe_not_accepted", `${b64('{"alg":"dir","enc":"A256GCM"}')}..aXY.Y2lwaGVy.dGFn`],
      ["wrong_audience", await validToken(key, now, { aud: `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews` })],
      ["invalid_subject", await validToken(key, now, { sub: "spiffe://other.test/ns/default/sa/productpage" })],
      ["multiple_tokens", `${valid}, ${valid}`],
      ["token_in_query", valid, `/?access_token=${valid}`],
    ];
    for (const [reason, token, path] of cases) {
      const { status, body, outcome } = await call("strict.test", { [HEADER]: token as string }, path);
      expect([reason, status, body.error?.reason, outcome.source]).toEqual([reason, 401, "unauthenticated", { refused: reason }]);
    }
    // Two header lines, as a raw client sends them (fetch would join them first).
    const twice = await mesh.raw("/", { host: "strict.test", [HEADER]: [valid, valid] as unknown as string });
    expect([twice.status, JSON.parse(twice.body).error.message]).toEqual([401, "multiple_tokens: more than one token was sent (a repeated header, or different tokens in the places looked at)"]);
    expect(strict.received).toHaveLength(0);
    const refusals = mesh.outcomes.filter((outcome) => outcome.reason === "unauthenticated" && outcome.host === "strict.test");
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length);
  });
});

describe("PERMISSIVE (the default) and DISABLE", () => {
  it("PERMISSIVE lets an anonymous caller in, verifies a token when one is sent", async () => {
    const anonymous = await call("permissive.test");
    expect(anonymous.status).toBe(200);
    expect(anonymous.outcome.source).toBeUndefined();
    const verified = await call("permissive.test", { [HEADER]: await validToken(key, nowS()) });
    expect(verified.outcome.source).toEqual({ id: CALLER, via: "token" });
    const forged = await call("permissive.test", { [HEADER]: await validToken(key, nowS() - 1000, { exp: nowS() - 700 }) });
    expect([forged.status, forged.outcome.source]).toEqual([401, { refused: "expired" }]);
    expect(permissive.received).toHaveLength(2);
  });

  it("DISABLE checks nothing, and still never forwards the token", async () => {
    const { status, body, outcome } = await call("disabled.test", { [HEADER]: "not.a.token" });
    expect(status).toBe(200);
    expect((body as Echo).headers[HEADER]).toBeUndefined();
    expect(outcome.source).toBeUndefined();
  });

  it("a split over a STRICT and a PERMISSIVE backend requires identity for every request, whatever the draw", async () => {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call("split.test").then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(401));
    expect((await call("split.test", { [HEADER]: await validToken(key, nowS()) })).status).toBe(200);
  });
});

describe("Worker callers, identified by their service binding's props", () => {
  const outcomeOf = async (response: Response) => {
    await response.arrayBuffer();
    return mesh.outcomeOf(response.headers.get("x-request-id")!);
  };

  it("a binding with props is that identity: STRICT lets it in without a token", async () => {
    const response = await mesh.fetchAs("productpage", "http://strict.test/");
    expect(response.status).toBe(200);
    expect((await outcomeOf(response)).source).toEqual({ id: `spiffe://${TRUST_DOMAIN}/ns/default/sa/productpage`, via: "binding" });
    const shop = await mesh.fetchAs("shop-cart", "http://strict.test/");
    expect((await outcomeOf(shop)).source).toEqual({ id: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/cart`, via: "binding" });
  });

  it("refuses props that name no valid identity, a token on top of a binding identity, and a binding without props (STRICT)", async () => {
    const bad = await mesh.fetchAs("bad-props", "http://permissive.test/");
    expect([bad.status, (await outcomeOf(bad)).source]).toEqual([401, { refused: "invalid_binding_identity" }]);
    const both = await mesh.fetchAs("productpage", "http://strict.test/", { headers: { [HEADER]: await validToken(key, nowS()) } });
    expect([both.status, (await outcomeOf(both)).source]).toEqual([401, { refused: "multiple_identities" }]);
    const none = await mesh.fetchAs("no-props", "http://strict.test/");
    expect([none.status, (await outcomeOf(none)).source]).toEqual([401, { refused: "missing_token" }]);
    expect(strict.received).toHaveLength(0);
  });
});
