/** RequestAuthentication validation: each mistake named by its field, with the exact text. */
import { generateKeyPairSync } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

let publicJwk: Record<string, unknown>;
let privateJwk: Record<string, unknown>;
let smallRsa: Record<string, unknown>;

beforeAll(async () => {
  const ec = await generateKeyPair("ES256", { extractable: true });
  publicJwk = { ...(await exportJWK(ec.publicKey)), kid: "k1", alg: "ES256" };
  privateJwk = { ...(await exportJWK(ec.privateKey)), kid: "k1", alg: "ES256" };
  // jose refuses to make keys under 2048 bits; node:crypto still does.
  smallRsa = { ...generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }), kid: "r1" };
});

const BACKEND = { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "shop" }, spec: { endpoints: [{ url: "http://127.0.0.1:9101" }] } };

/** The errors for a RequestAuthentication with this spec (beside a Backend "shop"), without their file positions. */
function errorsOf(spec: Record<string, unknown>): string[] {
  const policy = { apiVersion: "edgemesh.dev/v1alpha1", kind: "RequestAuthentication", metadata: { name: "users" }, spec };
  const loaded = loadYaml("authn.yaml", `${JSON.stringify(BACKEND)}\n---\n${JSON.stringify(policy)}\n`);
  const result = parsePolicySet(loaded.documents);
  return [...loaded.errors, ...(result.ok ? [] : result.errors)].map((error) => formatError(error).replace(/^authn\.yaml:\d+:\d+: /, ""));
}

const rule = (extra: Record<string, unknown> = {}) => ({ issuer: "https://idp.example", audiences: ["shop"], jwks: { keys: [publicJwk] }, ...extra });

describe("RequestAuthentication", () => {
  it("takes inline keys or a jwksUri, targeted or not", () => {
    expect(errorsOf({ jwtRules: [rule()] })).toEqual([]);
    expect(errorsOf({ targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "shop" }], jwtRules: [rule({ jwks: undefined, jwksUri: "https://idp.example/jwks" })] })).toEqual([]);
    expect(errorsOf({ jwtRules: [rule({ jwks: undefined, jwksUri: "http://127.0.0.1:8080/jwks" })] })).toEqual([]);
  });

  it("names each mistake", () => {
    expect(errorsOf({ jwtRules: [rule({ issuer: "has space" })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].issuer: must be printable ASCII without spaces (usually the issuer's https:// URL)",
    ]);
    expect(errorsOf({ jwtRules: [rule({ audiences: [] })] })).toEqual(["RequestAuthentication/users spec.jwtRules[0].audiences: must be at least 1 items"]);
    expect(errorsOf({ jwtRules: [rule({ jwksUri: "https://idp.example/jwks" })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].jwks: exactly one of jwks (the keys inline) and jwksUri (where to fetch them) must be given",
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: undefined })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].jwks: exactly one of jwks (the keys inline) and jwksUri (where to fetch them) must be given",
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: { keys: [privateJwk] } })] })).toEqual([
      'RequestAuthentication/users spec.jwtRules[0].jwks: is not a usable JWK Set: it keys[0] has the private key member "d": a JWK Set must hold public keys only',
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: { keys: [publicJwk, smallRsa] } })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].jwks: has a key that cannot be used: keys[1] has a 1024-bit modulus; from 2048 to 8192 bits are taken",
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: { keys: [{ kty: "oct", k: "c2VjcmV0", kid: "h" }] } })] })).toEqual([
      'RequestAuthentication/users spec.jwtRules[0].jwks: is not a usable JWK Set: it keys[0] has the private key member "k": a JWK Set must hold public keys only',
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: undefined, jwksUri: "http://169.254.169.254/latest/jwks" })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].jwksUri: must not point at a cloud metadata service (169.254.169.254)",
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks: undefined, jwksUri: "http://idp.example/jwks" })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].jwksUri: must use https (http only to a loopback address such as 127.0.0.1, for local runs)",
    ]);
    const reserved = "must not be a hop-by-hop, routing, framing, credential, client-address or mesh header (x-edgemesh-*, edgemesh-*, host, content-*, authorization, cookie, cf-*, x-forwarded-*...)";
    for (const header of ["x-edgemesh-caller", "expect", "content-type", "set-cookie", "cf-connecting-ip", "true-client-ip", "x-real-ip"]) {
      expect(errorsOf({ jwtRules: [rule({ outputClaimToHeaders: [{ header, claim: "sub" }] })] }), header).toEqual([`RequestAuthentication/users spec.jwtRules[0].outputClaimToHeaders[0].header: ${reserved}`]);
    }
    // The header the rule reads tokens from: a claim there would be read as the token on the next hop.
    expect(errorsOf({ jwtRules: [rule({ fromHeaders: [{ name: "x-jwt" }], outputClaimToHeaders: [{ header: "X-JWT", claim: "sub" }] })] })).toEqual([
      "RequestAuthentication/users spec.jwtRules[0].outputClaimToHeaders[0].header: is a header this rule reads tokens from",
    ]);
    expect(errorsOf({ targetRefs: [{ group: "edgemesh.dev", kind: "Backend", name: "nope" }], jwtRules: [rule()] })).toEqual([
      'RequestAuthentication/users spec.targetRefs[0].name: refers to unknown Backend "nope" in namespace "default"',
    ]);
    expect(errorsOf({ jwtRules: [rule({ jwks_uri: "x" })] })).toEqual(["RequestAuthentication/users spec.jwtRules[0].jwks_uri: is not a known field"]);
  });
});
