/**
 * Public verification keys of an end-user issuer, as a JWK Set (RFC 7517) holds them, checked
 * without trusting any of it: the same checks for an inline `jwks` (policy validation), a set the
 * control plane fetched from a `jwksUri`, and the gateway's KeySet. A key is taken only if it is a
 * public signing key of an accepted algorithm whose type and curve fit that algorithm (key confusion);
 * RSA moduli of at least 2048 bits. A set that carries any private member (`d`, `p`, `k`...) is
 * refused whole: whoever published it has leaked a private key, and it must not become trusted.
 */
import { decodeCanonical } from "./base64url.ts";
import { KeySet } from "./bundle.ts";

/** Algorithms end-user tokens may use; never `none`, never HS* (a public key is never an HMAC secret). */
export const END_USER_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"] as const;
export type JwtAlgorithm = (typeof END_USER_ALGORITHMS)[number];

/**
 * Key ids are lookup keys, nothing more: short and inert (no spaces, quotes or control characters).
 * Wider than the mesh's own (bundle.ts KID): issuers spell kids in base64 ("+", "/", "=") or with dots.
 */
export const END_USER_KID = /^[A-Za-z0-9_.:=+/-]{1,128}$/;

export const MAX_JWKS_KEYS = 32;
/** A JWK Set's serialized size limit: a few RSA-4096 keys fit in well under 64 KiB. */
export const MAX_JWKS_BYTES = 65_536;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/** A public key as verifiers keep it: only the members that make the key. */
export interface PublicJwk {
  kty: "RSA" | "EC" | "OKP";
  kid: string;
  alg: JwtAlgorithm;
  n?: string;
  e?: string;
  crv?: "P-256" | "P-384" | "Ed25519";
  x?: string;
  y?: string;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const CURVES: Record<string, { alg: JwtAlgorithm; bytes: number }> = { "P-256": { alg: "ES256", bytes: 32 }, "P-384": { alg: "ES384", bytes: 48 }, Ed25519: { alg: "EdDSA", bytes: 32 } };

export type KeyCheck = { ok: true; key: PublicJwk } | { ok: false; message: string; private?: true };

const bitLength = (bytes: Uint8Array) => (bytes.length === 0 ? 0 : (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0]!)));

/** The bytes a signature of this key has: ECDSA r || s, Ed25519 64, RSA the modulus's length. */
export function signatureLength(key: PublicJwk): number {
  if (key.kty === "RSA") return decodeCanonical(key.n!)!.length;
  return key.crv === "P-384" ? 96 : 64;
}

/** One JWK, or why it is not a usable public signing key. */
export function publicJwkOf(value: unknown, algorithms: readonly string[] = END_USER_ALGORITHMS): KeyCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, message: "is not a JSON object" };
  const jwk = value as Record<string, unknown>;
  for (const member of PRIVATE_MEMBERS) if (member in jwk) return { ok: false, private: true, message: `has the private key member "${member}": a JWK Set must hold public keys only` };
  if (typeof jwk.kid !== "string" || !END_USER_KID.test(jwk.kid)) return { ok: false, message: 'needs a "kid" of at most 128 letters, digits and "-_.:=+/"' };
  if (jwk.use !== undefined && jwk.use !== "sig") return { ok: false, message: `is for "use": ${JSON.stringify(jwk.use)}, not "sig"` };
  const bytes = (name: string) => (typeof jwk[name] === "string" ? decodeCanonical(jwk[name] as string) : undefined);
  let key: PublicJwk;
  if (jwk.kty === "RSA") {
    const alg = jwk.alg ?? "RS256";
    if (alg !== "RS256" && alg !== "PS256") return { ok: false, message: `is an RSA key for ${JSON.stringify(alg)}; RSA keys are taken for RS256 and PS256` };
    const n = bytes("n");
    const e = bytes("e");
    if (!n || !e || e.length === 0 || e.length > 4 || n[0] === 0) return { ok: false, message: 'needs "n" and "e" in canonical base64url' };
    const bits = bitLength(n);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return { ok: false, message: `has a ${bits}-bit modulus; from ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits are taken` };
    key = { kty: "RSA", kid: jwk.kid, alg, n: jwk.n as string, e: jwk.e as string };
  } else if (jwk.kty === "EC" || jwk.kty === "OKP") {
    const curve = typeof jwk.crv === "string" && (jwk.kty === "OKP") === (jwk.crv === "Ed25519") ? CURVES[jwk.crv] : undefined;
    if (!curve) return { ok: false, message: `has the unsupported curve ${JSON.stringify(jwk.crv)} (taken: P-256, P-384, Ed25519)` };
    if (jwk.alg !== undefined && jwk.alg !== curve.alg) return { ok: false, message: `is a ${String(jwk.crv)} key, which signs ${curve.alg}, not ${JSON.stringify(jwk.alg)}` };
    const x = bytes("x");
    const y = jwk.kty === "EC" ? bytes("y") : undefined;
    if (x?.length !== curve.bytes || (jwk.kty === "EC" ? y?.length !== curve.bytes : jwk.y !== undefined)) return { ok: false, message: "has coordinates of the wrong form or length" };
    key = { kty: jwk.kty, kid: jwk.kid, alg: curve.alg, crv: jwk.crv as PublicJwk["crv"], x: jwk.x as string };
    if (y) key.y = jwk.y as string;
  } else {
    return { ok: false, message: `has the key type ${JSON.stringify(jwk.kty)}; taken: RSA, EC, OKP` };
  }
  if (!algorithms.includes(key.alg)) return { ok: false, message: `signs ${key.alg}, which is not accepted here` };
  return { ok: true, key };
}

export type JwkSetCheck = { ok: true; keys: PublicJwk[]; problems: string[] } | { ok: false; message: string };

/**
 * A JWK Set's usable keys. `problems` names the keys left out (another use, type or curve): an
 * issuer's published set may well hold encryption keys. A set with a private member, a repeated kid,
 * too many keys or no usable key at all is refused.
 */
export function checkJwkSet(value: unknown): JwkSetCheck {
  if (typeof value !== "object" || value === null || !Array.isArray((value as { keys?: unknown }).keys)) return { ok: false, message: 'is not a JWK Set (an object with a "keys" array)' };
  const list = (value as { keys: unknown[] }).keys;
  if (list.length > MAX_JWKS_KEYS) return { ok: false, message: `has ${list.length} keys; at most ${MAX_JWKS_KEYS} are taken` };
  const keys: PublicJwk[] = [];
  const problems: string[] = [];
  const kids = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const checked = publicJwkOf(list[i]);
    if (!checked.ok) {
      if (checked.private) return { ok: false, message: `keys[${i}] ${checked.message}` };
      problems.push(`keys[${i}] ${checked.message}`);
      continue;
    }
    if (kids.has(checked.key.kid)) return { ok: false, message: `keys[${i}] repeats the kid ${JSON.stringify(checked.key.kid)}` };
    kids.add(checked.key.kid);
    keys.push(checked.key);
  }
  if (!keys.length) return { ok: false, message: `has no usable public signing key${problems.length ? ` (${problems.join("; ")})` : ""}` };
  return { ok: true, keys, problems };
}

/** A KeySet of end-user issuers' keys: each key taken only if publicJwkOf takes it. */
export const endUserKeySet = (): KeySet<PublicJwk> =>
  new KeySet<PublicJwk>((value) => {
    const checked = publicJwkOf(value);
    return checked.ok ? checked.key : undefined;
  });
