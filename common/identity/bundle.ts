/**
 * The trust bundle: the issuer's public keys as a JWK Set with the SPIFFE bundle fields
 * (`spiffe_sequence`, `spiffe_refresh_hint`), and the verifier's view of it, a KeySet that imports
 * each key once. Only public ES256 (EC P-256) and EdDSA (Ed25519) keys are taken: a key with private
 * parts, another type, or an `alg` that does not fit its type is left out, so no token can be checked
 * with a key of the wrong kind (key confusion).
 */
import { importJWK } from "jose";

/** A public key as the bundle carries it. */
export interface BundleKey {
  kty: "EC" | "OKP";
  crv: "P-256" | "Ed25519";
  x: string;
  y?: string;
  kid: string;
  alg: SigningAlgorithm;
  /** SPIFFE: "jwt-svid" for keys that sign JWT-SVIDs. */
  use: "jwt-svid";
}

/** A JWK Set as the SPIFFE trust domain bundle format has it. */
export interface TrustBundle {
  keys: BundleKey[];
  /** Grows with every change; a verifier never replaces a bundle with one of a lower sequence. */
  spiffe_sequence: number;
  /** Seconds: how often a verifier that fetches the bundle should fetch it again. */
  spiffe_refresh_hint: number;
}

export const ALGORITHMS = ["ES256", "EdDSA"] as const;
export type SigningAlgorithm = (typeof ALGORITHMS)[number];

/** Key ids are lookup keys, nothing more; this keeps them short and inert (no paths, quotes, URLs). */
export const KID = /^[A-Za-z0-9_-]{1,128}$/;

const CURVE_OF: Record<SigningAlgorithm, { kty: string; crv: string }> = { ES256: { kty: "EC", crv: "P-256" }, EdDSA: { kty: "OKP", crv: "Ed25519" } };

/** The key if it is a usable public signing key of an allowed algorithm, else undefined. */
export function bundleKeyOf(value: unknown): BundleKey | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const jwk = value as Record<string, unknown>;
  const alg = jwk.alg as SigningAlgorithm;
  const curve = CURVE_OF[alg];
  if (!ALGORITHMS.includes(alg) || !curve || jwk.kty !== curve.kty || jwk.crv !== curve.crv) return undefined;
  if (typeof jwk.kid !== "string" || !KID.test(jwk.kid) || typeof jwk.x !== "string") return undefined;
  if ("d" in jwk || (jwk.use !== undefined && jwk.use !== "jwt-svid")) return undefined;
  if (jwk.kty === "EC" ? typeof jwk.y !== "string" : jwk.y !== undefined) return undefined;
  const key: BundleKey = { kty: curve.kty as BundleKey["kty"], crv: curve.crv as BundleKey["crv"], x: jwk.x, kid: jwk.kid, alg, use: "jwt-svid" };
  if (jwk.kty === "EC") key.y = jwk.y as string;
  return key;
}

/** The sequence of a bundle of a pinned key (MESH_ISSUER_KEY): below any the issuer publishes. */
export const PINNED_SEQUENCE = 0;

/** What a KeySet needs of a key: its id and algorithm; the rest is the JWK that jose imports. */
export interface VerifyKey {
  readonly kid: string;
  readonly alg: string;
}

interface Entry<K> {
  readonly key: K;
  /** The key's members, to tell a kid that now names other key material. */
  readonly material: string;
  /** Imported on first use: a bundle of keys nobody presents costs no imports. */
  imported?: Promise<CryptoKey>;
}

/**
 * The keys a verifier trusts now. `version` changes with every accepted update, so a cached
 * verification can tell whether its key may have gone (revocation) without a lookup per request.
 * `accept` says which keys are taken (the mesh's bundle: bundleKeyOf; end-user issuers: jwk-set.ts).
 */
export class KeySet<K extends VerifyKey = BundleKey> {
  private entries = new Map<string, Entry<K>>();
  private sequence = -1;
  version = 0;

  constructor(private readonly accept: (value: unknown) => K | undefined = bundleKeyOf as unknown as (value: unknown) => K | undefined) {}

  /**
   * Takes a newer bundle (by spiffe_sequence); an older or equal one is ignored, except at sequence 0
   * (PINNED_SEQUENCE: a deploy's pinned key, which has no counter of its own), taken when its keys
   * differ, so a new pin reaches verifiers without a restart. Whether it was taken.
   */
  update(bundle: { keys: readonly unknown[]; spiffe_sequence: number; spiffe_refresh_hint?: number }): boolean {
    const sequence = bundle.spiffe_sequence;
    if (!(sequence >= this.sequence) || (sequence === this.sequence && sequence !== PINNED_SEQUENCE)) return false;
    const next = new Map<string, Entry<K>>();
    for (const value of bundle.keys) {
      const key = this.accept(value);
      if (!key) continue;
      const known = this.entries.get(key.kid);
      const material = JSON.stringify(key);
      // A kid names one key: an entry is reused only when its key material is the same.
      next.set(key.kid, known && known.material === material ? known : { key, material });
    }
    if (sequence === this.sequence && sameKeys(next, this.entries)) return false;
    this.entries = next;
    this.sequence = sequence;
    this.version++;
    return true;
  }

  /** Forgets every key (their source is gone): the next bundle is taken whatever its sequence. */
  clear(): void {
    this.entries = new Map();
    this.sequence = -1;
    this.version++;
  }

  get currentSequence(): number {
    return this.sequence;
  }

  has(kid: string): boolean {
    return this.entries.has(kid);
  }

  /**
   * What the kid names now, as an opaque value that stays the same object while the kid names the
   * same key material, and changes when a bundle puts other material under it (an issuer that reuses
   * kids): a verdict kept for a token is good only while this is still the value it was checked with.
   */
  keyOf(kid: string): object | undefined {
    return this.entries.get(kid);
  }

  get size(): number {
    return this.entries.size;
  }

  get(kid: string): { key: K; cryptoKey: () => Promise<CryptoKey> } | undefined {
    const entry = this.entries.get(kid);
    if (!entry) return undefined;
    return {
      key: entry.key,
      cryptoKey: () => {
        if (!entry.imported) {
          entry.imported = importJWK({ ...entry.key } as unknown as Record<string, string>, entry.key.alg) as Promise<CryptoKey>;
          // A failed import is not kept: the next token tries again.
          entry.imported.catch(() => (entry.imported = undefined));
        }
        return entry.imported;
      },
    };
  }
}

function sameKeys<K>(a: Map<string, Entry<K>>, b: Map<string, Entry<K>>): boolean {
  if (a.size !== b.size) return false;
  for (const [kid, entry] of a) if (b.get(kid)?.material !== entry.material) return false;
  return true;
}
