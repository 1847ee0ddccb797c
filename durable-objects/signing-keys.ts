/**
 * The issuer's signing keys in its SQLite storage, and the non-extractable CryptoKeys it signs with.
 *
 * Why the private key is stored as a JWK: a CryptoKey made non-extractable cannot be persisted (it
 * cannot be exported, and Durable Object storage holds only what serializes), and a key that lived
 * only in memory would be lost with the object, forcing an unannounced rotation at every restart.
 * So a key is generated extractable once, its private JWK stored in the object's storage (which the
 * platform encrypts at rest and only this object reads), and signing uses a non-extractable
 * CryptoKey imported from it: nothing in memory can export the key, and no RPC method returns it.
 */
import { importJWK, type JWK } from "jose";
import type { SigningAlgorithm } from "../common/identity/bundle.ts";
import type { PrivateKey } from "../common/identity/private-key.ts";
import type { SigningKeyInfo } from "../common/protocol.ts";

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

/** Until when a retired key stays in the bundle: its last token's expiry plus the verifiers' skew. */
export const publishedUntilOf = (row: KeyRow, clockSkewMs: number) => Math.max(row.last_exp, row.retired_at ?? 0) + clockSkewMs;

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

  insert(key: PrivateKey, now: number, activatesAt: number, pinned = false): void {
    this.sql.exec(
      "INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, activates_at, retired_at, last_exp, pinned) VALUES (?, ?, ?, ?, ?, ?, NULL, 0, ?)",
      key.kid, key.alg, JSON.stringify(key.privateJwk), JSON.stringify(key.publicJwk), now, activatesAt, pinned ? 1 : 0,
    );
  }

  activate(kid: string, at: number): void {
    this.sql.exec("UPDATE signing_keys SET activates_at = ? WHERE kid = ?", at, kid);
  }

  /**
   * Makes MESH_ISSUER_KEY the signing key: stored as pinned if it is new; the same key set back after
   * another (still published, retired) signs again; a different key under a kid that is stored (a
   * replaced secret whose JWK names its kid) replaces that row, so the old material neither signs nor
   * stays published. Returns that kid when it replaced one (its imported CryptoKey is stale).
   */
  takePin(pin: PrivateKey, now: number): string | undefined {
    const stored = this.all().find((row) => row.kid === pin.kid);
    if (stored && sameKey(JSON.parse(stored.public_jwk), pin.publicJwk)) {
      if (stored.retired_at !== null || !stored.pinned) this.reinstate(stored.kid, now, true);
      return undefined;
    }
    if (stored) this.remove(stored.kid);
    this.insert(pin, now, now, true);
    return stored?.kid;
  }

  /** A retired key made the signing key again from `at` (MESH_ISSUER_KEY set back to it). */
  reinstate(kid: string, at: number, pinned: boolean): void {
    this.sql.exec("UPDATE signing_keys SET retired_at = NULL, activates_at = ?, pinned = ? WHERE kid = ?", at, pinned ? 1 : 0, kid);
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

  /** The key that signs at `now`: the newest active one not retired. */
  signer(now: number): KeyRow | undefined {
    return this.all().filter((row) => row.retired_at === null && row.activates_at <= now).at(-1);
  }

  /** Every key as the admin API shows it: never a private part. */
  describe(now: number, clockSkewMs: number): SigningKeyInfo[] {
    const signing = this.signer(now)?.kid;
    return this.all().map((row) => ({
      kid: row.kid,
      alg: row.alg,
      state: row.kid === signing ? "signing" : row.retired_at === null ? "published" : "retired",
      pinned: row.pinned === 1,
      createdAt: row.created_at,
      activatesAt: row.activates_at,
      retiredAt: row.retired_at,
      publishedUntil: row.retired_at === null ? null : publishedUntilOf(row, clockSkewMs),
    }));
  }
}

/** A non-extractable signing key from a stored private JWK. */
export const signingKeyOf = (row: KeyRow) => importJWK(JSON.parse(row.private_jwk) as JWK, row.alg, { extractable: false }) as Promise<CryptoKey>;

/** Whether two public JWKs are the same key (their kid aside). */
function sameKey(a: object, b: object): boolean {
  return ["kty", "crv", "x", "y"].every((member) => (a as Record<string, unknown>)[member] === (b as Record<string, unknown>)[member]);
}
