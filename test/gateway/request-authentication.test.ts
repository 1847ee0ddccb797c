/**
 * End-user authentication at the gateway (RequestAuthentication), against real upstreams: tokens
 * minted here with RS256 and ES256 keys, the issuer's keys inline (no control plane: the bare
 * bundle). A valid token reaches the upstream with its claim headers; each class of invalid token is
 * 401 and never reaches it; no token passes with no end user; spoofed claim headers never pass.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { b64 } from "../support/tokens.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

const ISSUER = "https://idp.test";
const AUDIENCE = "shop";

interface SigningKey {
  alg: "RS256" | "ES256" | "PS256";
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(alg: SigningKey["alg"], kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { modulusLength: 2048, extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const nowS = () => Math.floor(Date.now() / 1000);

/** A token from `key`, with claim overrides (undefined removes a claim) and header overrides. */
async function mint(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const base: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: "user-1", iat: nowS(), exp: nowS() + 600, groups: ["admins", "staff"], org: { tenant: "acme" }, name: "Zoë" };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return new SignJWT(base).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header } as never).sign(key.privateKey);
}

let shop: Upstream;
let cookies: Upstream;
let open: Upstream;
/** A backend whose peerAuthentication is DISABLE: nothing but the end-user check looks at the request's credentials. */
let direct: Upstream;
let mesh: TestGateway;
let rsa: SigningKey;
let ec: SigningKey;
let ps: SigningKey;
let stranger: SigningKey;

const requestAuthentication = (name: string, targetRefs: unknown[], rule: Record<string, unknown>) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "RequestAuthentication",
  metadata: { name },
  spec: { targetRefs, jwtRules: [{ issuer: ISSUER, audiences: [AUDIENCE, "other-app"], ...rule }] },
});

beforeAll(async () => {
  [shop, cookies, open, direct] = await Promise.all([Upstream.start("shop"), Upstream.start("cookies"), Upstream.start("open"), Upstream.start("direct")]);
  [rsa, ec, ps, stranger] = await Promise.all([signingKey("RS256", "rsa-1"), signingKey("ES256", "ec-1"), signingKey("PS256", "ps-1"), signingKey("RS256", "rsa-1")]);
  const jwks = { keys: [rsa.publicJwk, ec.publicJwk, { ...ps.publicJwk, alg: "RS256" }] };
  mesh = await TestGateway.start([
    backend("shop", [shop.url]),
    backend("cookies", [cookies.url]),
    backend("open", [open.url]),
    { ...backend("direct", [direct.url]), spec: { endpoints: [{ url: direct.url }], peerAuthentication: { mode: "DISABLE" } } },
    simpleRoute("shop", "shop.test", "shop"),
    simpleRoute("direct", "direct.test", "direct"),
    simpleRoute("cookies", "cookies.test", "cookies"),
    simpleRoute("open", "open.test", "open"),
    // Mostly to "open", which has no RequestAuthentication of its own: the split takes shop's.
    route("split", { hostnames: ["split.test"], rules: [{ backendRefs: [{ name: "open", weight: 99 }, { name: "shop", weight: 1 }] }] }),
    simpleRoute("strip", "strip.test", "open"),
    requestAuthentication("shop-users", [{ group: "edgemesh.dev", kind: "Backend", name: "shop" }], {
      jwks,
      outputClaimToHeaders: [
        { header: "x-user", claim: "sub" },
        { header: "x-groups", claim: "groups" },
        { header: "x-tenant", claim: "org.tenant" },
        { header: "x-name", claim: "name" },
      ],
    }),
    requestAuthentication("cookie-users", [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "cookies" }], {
      jwks,
      fromCookies: ["session"],
      fromHeaders: [{ name: "x-jwt" }],
      forwardOriginalToken: true,
      outputClaimToHeaders: [{ header: "x-user", claim: "sub" }],
    }),
    requestAuthentication("strip-users", [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "strip" }], { jwks, fromCookies: ["session"] }),
    requestAuthentication("direct-users", [{ group: "edgemesh.dev", kind: "Backend", name: "direct" }], { jwks }),
  ]);
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([shop, cookies, open, direct].map((upstream) => upstream?.close()));
});

beforeEach(() => {
  for (const upstream of [shop, cookies, open, direct]) upstream.received.length = 0;
});

async function call(host: string, headers: Record<string, string> = {}, path = "/") {
  const response = await mesh.fetch(`http://${host}${path}`, { headers });
  const text = await response.text();
  const outcome = await mesh.outcomeOf(response.headers.get("x-request-id")!);
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? JSON.parse(text) : text, outcome };
}

describe("a valid token", () => {
  it("RS256: reaches the upstream with its claims as headers, the token removed, the end user recorded", async () => {
    const token = await mint(rsa);
    const { status, body, outcome } = await call("shop.test", { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    const { headers } = body as Echo;
    expect(headers).toMatchObject({ "x-user": "user-1", "x-groups": "admins,staff", "x-tenant": "acme" });
    // UTF-8 bytes, as Envoy sends them.
    expect(Buffer.from(headers["x-name"] as string, "latin1").toString("utf8")).toBe("Zoë");
    expect(headers.authorization).toBeUndefined();
    expect(outcome.endUser).toEqual({ principal: `${ISSUER}/user-1` });
    // Again, from the verified-token cache.
    expect((await call("shop.test", { authorization: `bearer ${token}` })).status).toBe(200);
  });

  it("leaves out a claim header whose value has no UTF-8 form (a lone surrogate)", async () => {
    const { status, body } = await call("shop.test", { authorization: `Bearer ${await mint(rsa, { name: "Zo\ud800" })}` });
    expect(status).toBe(200);
    expect((body as Echo).headers).not.toHaveProperty("x-name");
    expect((body as Echo).headers["x-user"]).toBe("user-1");
  });

  it("ES256, and an audience among several", async () => {
    const { status, body } = await call("shop.test", { authorization: `Bearer ${await mint(ec, { aud: ["unrelated", "other-app"] })}` });
    expect(status).toBe(200);
    expect((body as Echo).headers["x-user"]).toBe("user-1");
  });

  it("from a cookie, forwarded when forwardOriginalToken is true", async () => {
    const token = await mint(ec, { sub: "cookie-user" });
    const { status, body, outcome } = await call("cookies.test", { cookie: `theme=dark; session=${token}; lang=en` });
    expect(status).toBe(200);
    expect((body as Echo).headers["x-user"]).toBe("cookie-user");
    expect((body as Echo).headers.cookie).toBe(`theme=dark; session=${token}; lang=en`);
    expect(outcome.endUser).toEqual({ principal: `${ISSUER}/cookie-user` });
  });

  it("from a custom header without prefix; the same token in two places is one token", async () => {
    const token = await mint(rsa, { sub: "header-user" });
    const { status, body } = await call("cookies.test", { "x-jwt": token, cookie: `session=${token}` });
    expect(status).toBe(200);
    expect((body as Echo).headers).toMatchObject({ "x-user": "header-user", "x-jwt": token });
  });
});

describe("where the rule goes", () => {
  it("a split takes the RequestAuthentications of every backend, whatever the draw", async () => {
    const bad = await mint(stranger);
    for (let i = 0; i < 5; i++) expect((await call("split.test", { authorization: `Bearer ${bad}` })).status).toBe(401);
    const good = await call("split.test", { authorization: `Bearer ${await mint(rsa)}`, "x-user": "spoof" });
    expect(good.status).toBe(200);
    expect((good.body as Echo).headers["x-user"]).toBe("user-1");
    expect((await call("split.test", { "x-user": "spoof" })).body.headers).not.toHaveProperty("x-user");
    expect(open.received.length + shop.received.length).toBe(2);
  });

  it("forwardOriginalToken false removes the token's cookie and keeps the others", async () => {
    const { status, body, outcome } = await call("strip.test", { cookie: `theme=dark; session=${await mint(ec)}; lang=en` });
    expect(status).toBe(200);
    expect((body as Echo).headers.cookie).toBe("theme=dark; lang=en");
    expect(outcome.endUser).toEqual({ principal: `${ISSUER}/user-1` });
    expect(((await call("strip.test", { cookie: `session=${await mint(ec)}` })).body as Echo).headers).not.toHaveProperty("cookie");
  });
});

describe("no token", () => {
  it("passes with no end user; the Authorization of another scheme passes untouched", async () => {
    const { status, body, outcome } = await call("shop.test", { authorization: "Basic dXNlcjpwYXNz" });
    expect(status).toBe(200);
    expect((body as Echo).headers.authorization).toBe("Basic dXNlcjpwYXNz");
    expect(outcome.endUser).toBeUndefined();
  });

  it("a route without RequestAuthentication passes any Authorization on", async () => {
    const { status, body } = await call("open.test", { authorization: "Bearer not-even-a-jwt", "x-user": "kept" });
    expect(status).toBe(200);
    expect((body as Echo).headers).toMatchObject({ authorization: "Bearer not-even-a-jwt", "x-user": "kept" });
  });
});

describe("spoofed claim headers", () => {
  it("are removed without a token, and replaced with a token", async () => {
    const spoof = { "x-user": "admin", "x-groups": "root", "X-Tenant": "evil" };
    const without = await call("shop.test", spoof);
    expect(without.status).toBe(200);
    expect((without.body as Echo).headers).not.toHaveProperty("x-user");
    expect((without.body as Echo).headers).not.toHaveProperty("x-groups");
    expect((without.body as Echo).headers).not.toHaveProperty("x-tenant");
    const withToken = await call("shop.test", { ...spoof, authorization: `Bearer ${await mint(rsa, { groups: undefined })}` });
    expect((withToken.body as Echo).headers["x-user"]).toBe("user-1");
    // The token has no groups claim: the header is absent, not the client's.
    expect((withToken.body as Echo).headers).not.toHaveProperty("x-groups");
  });
});

describe("an invalid token is 401 and never reaches the upstream", () => {
  const cases: [string, () => Promise<string>][] = [
    ["wrong_issuer", () => mint(rsa, { iss: "https://evil.test" })],
    ["wrong_audience", () => mint(rsa, { aud: "someone-else" })],
    ["expired", () => mint(rsa, { iat: nowS() - 7200, exp: nowS() - 3600 })],
    ["issued_in_future", () => mint(rsa, { iat: nowS() + 3600, exp: nowS() + 4000 })],
    ["missing_claim", () => mint(rsa, { sub: undefined })],
    ["missing_claim", () => mint(rsa, { exp: undefined })],
    ["lifetime_too_long", () => mint(rsa, { exp: nowS() + 2 * 86_400 })],
    ["bad_signature", () => mint(stranger)],
    ["unknown_kid", () => mint(rsa, {}, { kid: "rsa-2" })],
    ["header_not_allowed", () => mint(rsa, {}, { jku: "https://evil.test/jwks.json" })],
    ["header_not_allowed", () => mint(rsa, {}, { jwk: rsa.publicJwk })],
    ["key_mismatch", () => mint(ps, {}, { kid: "ps-1" })],
    ["alg_not_allowed", async () => `${b64(JSON.stringify({ alg: "none", kid: "rsa-1" }))}.${b64(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "x", iat: nowS(), exp: nowS() + 60 }))}.`],
    [
      // Key confusion: the RSA public key's JWK text as an HMAC secret.
      "alg_not_allowed",
      async () =>
        new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "x", iat: nowS(), exp: nowS() + 60 })
          .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
          .sign(new TextEncoder().encode(JSON.stringify(rsa.publicJwk))),
    ],
    ["jwe_not_accepted", async () => "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"],
    ["malformed", async () => "not-a-jwt"],
    ["token_too_large", () => mint(rsa, { padding: "x".repeat(9000) })],
  ];
  for (const [reason, make] of cases) {
    it(reason, async () => {
      const { status, headers, body, outcome } = await call("shop.test", { authorization: `Bearer ${await make()}` });
      expect(status).toBe(401);
      expect(body.error.reason).toBe("unauthenticated");
      expect(body.error.message).toMatch(new RegExp(`^${reason}: `));
      expect(headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      expect(outcome).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: reason } });
      expect(shop.received).toHaveLength(0);
    });
  }

  it("several Authorization headers: multiple_tokens (invalid_request)", async () => {
    const [a, b] = [await mint(rsa), await mint(ec)];
    const { status, headers, body } = await mesh.raw("/", { host: "shop.test", authorization: [`Bearer ${a}`, `Bearer ${b}`] } as never);
    expect(status).toBe(401);
    expect(JSON.parse(body).error.message).toMatch(/^multiple_tokens: /);
    expect(headers["www-authenticate"]).toBe('Bearer error="invalid_request"');
    expect(await mesh.outcomeOf(headers["x-request-id"] as string)).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: "multiple_tokens" } });
    expect(shop.received).toHaveLength(0);
  });

  it("two different tokens in a rule's two places: multiple_tokens", async () => {
    const { status, body, outcome } = await call("cookies.test", { "x-jwt": await mint(rsa), cookie: `session=${await mint(ec)}` });
    expect(status).toBe(401);
    expect(body.error.message).toMatch(/^multiple_tokens: /);
    expect(outcome).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: "multiple_tokens" } });
    expect(cookies.received).toHaveLength(0);
  });

  it("the Bearer scheme with another separator is refused, never passed on unverified", async () => {
    const forged = await mint(stranger);
    for (const authorization of [`Bearer\t${forged}`, `Bearer: ${forged}`, `Bearer${forged}`]) {
      const { status, body, outcome } = await call("shop.test", { authorization });
      expect(status, JSON.stringify(authorization)).toBe(401);
      expect(body.error.message).toMatch(/^malformed: /);
      expect(outcome, JSON.stringify(authorization)).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: "malformed" } });
    }
    expect(shop.received).toHaveLength(0);
  });

  it("a cookie behind a comma is found, as parsers that split at commas would find it", async () => {
    const { status, body, outcome } = await call("cookies.test", { cookie: `theme=dark, session=${await mint(stranger)}` });
    expect(status).toBe(401);
    expect(body.error.message).toMatch(/^bad_signature: /);
    expect(outcome).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: "bad_signature" } });
    expect(cookies.received).toHaveLength(0);
  });

  it("a token in the query string: token_in_query, however its name is escaped", async () => {
    const token = await mint(rsa);
    for (const name of ["access_token", "ACCESS_TOKEN", "access%5Ftoken", "access_t%6Fken", "%61ccess_token"]) {
      // The end-user check's own refusal, where the backend takes no workload tokens (DISABLE).
      const { status, headers, body, outcome } = await call("direct.test", {}, `/?${name}=${token}`);
      expect(status, name).toBe(401);
      expect(body.error.message, name).toMatch(/^token_in_query: /);
      expect(headers.get("www-authenticate"), name).toBe('Bearer error="invalid_request"');
      expect(outcome, name).toMatchObject({ status: 401, reason: "unauthenticated", endUser: { refused: "token_in_query" } });
      expect(outcome.source, name).toBeUndefined();
      // Under PERMISSIVE (shop's), the workload-token check, which runs first, refuses it already.
      const permissive = await call("shop.test", {}, `/?${name}=${token}`);
      expect([permissive.status, permissive.body.error.message.split(":")[0], permissive.outcome.source, permissive.outcome.endUser], name).toEqual([401, "token_in_query", { refused: "token_in_query" }, undefined]);
    }
    expect(direct.received).toHaveLength(0);
    expect(shop.received).toHaveLength(0);
  });
});
