/**
 * Hand-made workload tokens for tests: any header and payload text (duplicate keys and all), signed
 * with a real key, so each hostile token differs from a valid one in exactly the way it means to.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { encode } from "../../common/identity/base64url.ts";
import type { BundleKey, TrustBundle } from "../../common/identity/bundle.ts";

export const TRUST_DOMAIN = "mesh.test";
export const ISSUER = `spiffe://${TRUST_DOMAIN}`;
export const AUDIENCE = `spiffe://${TRUST_DOMAIN}/ns/edgemesh/sa/gateway`;
export const CALLER = `spiffe://${TRUST_DOMAIN}/ns/default/sa/productpage`;

export interface TestKey {
  alg: "ES256" | "EdDSA";
  kid: string;
  privateKey: CryptoKey;
  publicJwk: BundleKey;
  privateJwk: JWK;
}

export async function makeKey(alg: "ES256" | "EdDSA" = "ES256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" && { crv: "Ed25519" }) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  return { alg, kid, privateKey, publicJwk: { ...publicJwk, kid, alg, use: "jwt-svid" } as BundleKey, privateJwk };
}

export const bundleOf = (keys: TestKey[], sequence = 1): TrustBundle => ({
  keys: keys.map((key) => key.publicJwk),
  spiffe_sequence: sequence,
  spiffe_refresh_hint: 60,
});

export const b64 = (text: string) => encode(new TextEncoder().encode(text));

/** Signs `header.payload` (given as JSON text, or objects) with the key's algorithm. */
export async function signParts(key: TestKey, header: string | object, payload: string | object): Promise<string> {
  const input = `${b64(typeof header === "string" ? header : JSON.stringify(header))}.${b64(typeof payload === "string" ? payload : JSON.stringify(payload))}`;
  const algorithm = key.alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
  const signature = new Uint8Array(await crypto.subtle.sign(algorithm, key.privateKey, new TextEncoder().encode(input)));
  return `${input}.${encode(signature)}`;
}

/** Claims of a valid token at `nowS` (epoch seconds), with overrides (undefined removes a claim). */
export function claims(nowS: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: CALLER, iat: nowS, exp: nowS + 300, jti: "t1" };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base;
}

/** A valid token for the key, with claim overrides. */
export const validToken = (key: TestKey, nowS: number, overrides: Record<string, unknown> = {}) =>
  signParts(key, { alg: key.alg, kid: key.kid, typ: "JWT" }, claims(nowS, overrides));
