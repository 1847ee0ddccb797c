/**
 * Signing keys from private JWKs: a fresh ES256 key, or the one MESH_ISSUER_KEY pins (ES256 or
 * EdDSA). The kid is the start of the key's RFC 7638 thumbprint (KID_LENGTH characters) unless the
 * JWK names one. Shared by the issuer (which signs) and the gateway (which, with a pinned key and no
 * control plane, trusts its public part).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { bundleKeyOf, PINNED_SEQUENCE, type BundleKey, type SigningAlgorithm, type TrustBundle } from "./bundle.ts";

/**
 * 16 base64url characters, 96 bits of the thumbprint: no collision among the few keys a bundle holds,
 * and every token carries its kid on every hop (README, "Identity": each byte costs on each hop).
 */
const KID_LENGTH = 16;

export interface PrivateKey {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: BundleKey;
}

export async function generateKey(): Promise<PrivateKey> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return keyFromPrivateJwk(await exportJWK(privateKey), "ES256");
}

/** The key MESH_ISSUER_KEY holds; throws saying what is wrong with it. */
export async function pinnedKey(secret: string): Promise<PrivateKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(secret) as JWK;
  } catch {
    throw new Error("MESH_ISSUER_KEY is not JSON: it must be a private JWK");
  }
  const alg = jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "OKP" && jwk.crv === "Ed25519" ? "EdDSA" : undefined;
  if (!alg || typeof jwk.d !== "string" || (jwk.alg !== undefined && jwk.alg !== alg)) {
    throw new Error("MESH_ISSUER_KEY must be a private EC P-256 (ES256) or OKP Ed25519 (EdDSA) JWK");
  }
  return keyFromPrivateJwk(jwk, alg);
}

/** A bundle of the pinned key alone, at PINNED_SEQUENCE: any bundle the issuer publishes replaces it. */
export const pinnedBundle = async (secret: string): Promise<TrustBundle> => ({ keys: [(await pinnedKey(secret)).publicJwk], spiffe_sequence: PINNED_SEQUENCE, spiffe_refresh_hint: 300 });

async function keyFromPrivateJwk(jwk: JWK, alg: SigningAlgorithm): Promise<PrivateKey> {
  const { kty, crv, x, y, d } = jwk;
  const publicPart = { kty, crv, x, ...(y !== undefined && { y }) } as JWK;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart)).slice(0, KID_LENGTH);
  const publicJwk = bundleKeyOf({ ...publicPart, kid, alg, use: "jwt-svid" });
  if (!publicJwk) throw new Error(`MESH_ISSUER_KEY is not a usable ${alg} key (its kid must be letters, digits, "-" and "_", at most 128)`);
  return { kid, alg, privateJwk: { ...publicPart, d, kid, alg }, publicJwk };
}
