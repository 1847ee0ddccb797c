/**
 * The Verifier with end-user options (RequestAuthentication): the same checks as workload tokens,
 * with RSA and ES384, any of several audiences, any `sub`, lifetimes up to a day. The key set takes
 * public signing keys only, RSA from 2048 bits.
 */
import { generateKeyPairSync } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { encode } from "../../../common/identity/base64url.ts";
import { checkJwkSet, endUserKeySet } from "../../../common/identity/jwk-set.ts";
import { endUserVerifierOptions, Verifier } from "../../../common/identity/verify.ts";
import { AUDIENCE, bundleOf, ISSUER as MESH_ISSUER, makeKey, TRUST_DOMAIN, validToken } from "../../support/tokens.ts";

const ISSUER = "https://idp.example";
const NOW_S = 1_800_000_000;
type Alg = "RS256" | "PS256" | "ES256" | "ES384" | "EdDSA";
const keys: Partial<Record<Alg, { privateKey: CryptoKey; publicJwk: JWK }>> = {};
let verifier: Verifier<string>;

beforeAll(async () => {
  for (const alg of ["RS256", "PS256", "ES256", "ES384", "EdDSA"] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    keys[alg] = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg } };
  }
  const set = endUserKeySet();
  set.update({ keys: Object.values(keys).map((key) => key.publicJwk), spiffe_sequence: 1 });
  verifier = new Verifier({ ...endUserVerifierOptions(ISSUER, ["shop", "admin"]), now: () => NOW_S * 1000 }, set as never);
});

const mint = (alg: Alg, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  new SignJWT({ iss: ISSUER, aud: "shop", sub: "alice@example.com", iat: NOW_S, exp: NOW_S + 3600, ...claims })
    .setProtectedHeader({ alg, kid: `k-${alg}`, ...header })
    .sign(keys[alg]!.privateKey);

const reasonOf = async (token: string) => {
  const result = await verifier.verify(token);
  return result.ok ? "ok" : result.reason;
};

describe("end-user tokens", () => {
  it("verify with every accepted algorithm, with their claims", async () => {
    for (const alg of ["RS256", "PS256", "ES256", "ES384", "EdDSA"] as const) expect(await reasonOf(await mint(alg))).toBe("ok");
    const result = await verifier.verify(await mint("RS256", { groups: ["a"] }));
    expect(result.ok && result.token.subject).toBe("alice@example.com");
    expect(result.ok && result.token.claims.groups).toEqual(["a"]);
  });

  it("take any of the audiences among the token's; refuse others", async () => {
    expect(await reasonOf(await mint("ES256", { aud: ["other", "admin"] }))).toBe("ok");
    expect(await reasonOf(await mint("ES256", { aud: ["other"] }))).toBe("wrong_audience");
    expect(await reasonOf(await mint("ES256", { aud: [] }))).toBe("wrong_audience");
  });

  it("take lifetimes up to 24 h, at+jwt, and refuse the rest as workload tokens are refused", async () => {
    expect(await reasonOf(await mint("ES256", { exp: NOW_S + 86_400 }))).toBe("ok");
    expect(await reasonOf(await mint("ES256", { exp: NOW_S + 86_401 }))).toBe("lifetime_too_long");
    expect(await reasonOf(await mint("ES256", {}, { typ: "at+jwt" }))).toBe("ok");
    expect(await reasonOf(await mint("ES256", { sub: "" }))).toBe("invalid_subject");
    expect(await reasonOf(await mint("ES256", { iss: MESH_ISSUER }))).toBe("wrong_issuer");
    expect(await reasonOf(await mint("ES256", {}, { jku: "https://evil.example/jwks" }))).toBe("header_not_allowed");
    // PS256 with the RS256 key's kid: the key is for another algorithm.
    expect(await reasonOf(await mint("PS256", {}, { kid: "k-RS256" }))).toBe("key_mismatch");
  });

  it("ES384 signatures with r or s zero are refused before WebCrypto", async () => {
    const token = await mint("ES384");
    const zero = `${token.slice(0, token.lastIndexOf(".") + 1)}${encode(new Uint8Array(96))}`;
    expect(await verifier.verify(zero)).toMatchObject({ ok: false, reason: "bad_signature", message: expect.stringContaining("r or s is zero") });
  });

  it("workload tokens keep their own profile: RS256 is not one of theirs", async () => {
    const es = await makeKey("ES256");
    const mesh = new Verifier({ issuer: MESH_ISSUER, audience: AUDIENCE, trustDomain: TRUST_DOMAIN, now: () => NOW_S * 1000 });
    mesh.keys.update(bundleOf([es]));
    expect((await mesh.verify(await validToken(es, NOW_S))).ok).toBe(true);
    expect(await mesh.verify(await mint("RS256"))).toMatchObject({ ok: false, reason: "alg_not_allowed" });
  });
});

describe("JWK Sets", () => {
  it("take public signing keys; refuse small RSA, private members, repeated kids", async () => {
    const small = { ...generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }), kid: "small" };
    const good = keys.ES256!.publicJwk;
    expect(checkJwkSet({ keys: [good, small, { ...good, kid: "enc", use: "enc" }] })).toMatchObject({
      ok: true,
      keys: [{ kid: "k-ES256" }],
      problems: ["keys[1] has a 1024-bit modulus; from 2048 to 8192 bits are taken", 'keys[2] is for "use": "enc", not "sig"'],
    });
    expect(checkJwkSet({ keys: [good, { ...good, d: "AAAA" }] })).toEqual({ ok: false, message: 'keys[1] has the private key member "d": a JWK Set must hold public keys only' });
    expect(checkJwkSet({ keys: [good, good] })).toEqual({ ok: false, message: 'keys[1] repeats the kid "k-ES256"' });
    expect(checkJwkSet({ keys: [{ ...good, alg: "ES384" }] })).toMatchObject({ ok: false, message: expect.stringContaining("signs ES256, not") });
    expect(checkJwkSet({ keys: [] })).toEqual({ ok: false, message: "has no usable public signing key" });
  });
});
