/**
 * The issuer's signing keys in its SQLite storage, and how keys are made.
 *
 * Why the private key is stored as a JWK: a CryptoKey made non-extractable cannot be persisted (it
 * cannot be exported, and Durable Object storage holds only what serializes), and a key that lived
 * only in memory would be lost with the object, forcing an unannounced rotation at every restart.
 * So a key is generated extractable once, its private JWK stored in the object's storage (which the
 * platform encrypts at rest and only this object reads), and signing uses a non-extractable
 * CryptoKey imported from it: nothing in memory can export the key, and no RPC method returns it.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { bundleKeyOf, type BundleKey, type SigningAlgorithm } from "../common/identity/bundle.ts";

export type KeyRow = {
  kid: string;
  alg: SigningAlgorithm;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  /** When it signs from. A key is published (in the bundle) from its creation. */
  activates_at: number;
  /** When a newer key took over; null while it is the signing key or waiting to be. */
  retired_at: number | null;
  /** The latest `exp` of any token it signed: it stays published until then plus the clock skew. */
  last_exp: number;
  /** 1 for the key MESH_ISSUER_KEY pins. */
  pinned: number;
};

export interface NewKey {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: BundleKey;
}

export class SigningKeys {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS signing_keys (
      kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_jwk TEXT NOT NULL, public_jwk TEXT NOT NULL,
      created_at INTEGER NOT NULL, activates_at INTEGER NOT NULL, retired_at INTEGER,
      last_exp INTEGER NOT NULL DEFAULT 0, pinned INTEGER NOT NULL DEFAULT 0)`);
  }

  /** Every stored key, oldest activation first. */
  all(): KeyRow[] {
    return this.sql.exec<KeyRow>("SELECT * FROM signing_keys ORDER BY activates_at, created_at").toArray();
  }

  insert(key: NewKey, now: number, activatesAt: number, pinned = false): void {
    this.sql.exec(
      "INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, activates_at, retired_at, last_exp, pinned) VALUES (?, ?, ?, ?, ?, ?, NULL, 0, ?)",
      key.kid, key.alg, JSON.stringify(key.privateJwk), JSON.stringify(key.publicJwk), now, activatesAt, pinned ? 1 : 0,
    );
  }

  retire(kid: string, at: number): void {
    this.sql.exec("UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL", at, kid);
  }

  signed(kid: string, exp: number): void {
    this.sql.exec("UPDATE signing_keys SET last_exp = MAX(last_exp, ?) WHERE kid = ?", exp, kid);
  }

  /** Deletes a key, private part and all. */
  remove(kid: string): void {
    this.sql.exec("DELETE FROM signing_keys WHERE kid = ?", kid);
  }
}

/** A fresh ES256 key pair, kid its RFC 7638 thumbprint. */
export async function generateKey(): Promise<NewKey> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return keyFromPrivateJwk(await exportJWK(privateKey), "ES256");
}

/** The key MESH_ISSUER_KEY holds: a private ES256 (P-256) or EdDSA (Ed25519) JWK. */
export async function pinnedKey(secret: string): Promise<NewKey> {
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

async function keyFromPrivateJwk(jwk: JWK, alg: SigningAlgorithm): Promise<NewKey> {
  const { kty, crv, x, y, d } = jwk;
  const publicPart = { kty, crv, x, ...(y !== undefined && { y }) } as JWK;
  const kid = jwk.kid ?? (await calculateJwkThumbprint(publicPart));
  const publicJwk = bundleKeyOf({ ...publicPart, kid, alg, use: "jwt-svid" });
  if (!publicJwk) throw new Error(`not a usable ${alg} key (kid ${JSON.stringify(kid)}: letters, digits, "-" and "_", at most 128)`);
  return { kid, alg, privateJwk: { ...publicPart, d, kid, alg }, publicJwk };
}

/** A non-extractable signing key from a stored private JWK. */
export const signingKeyOf = (row: KeyRow) => importJWK(JSON.parse(row.private_jwk) as JWK, row.alg, { extractable: false }) as Promise<CryptoKey>;
