/**
 * Bootstrap credentials made at run time through the admin API, in the Issuer's SQLite storage: the
 * SPIFFE ID, the SHA-256 of the secret (`sha256:<hex>`, as MESH_WORKLOAD_CREDENTIALS holds them) and
 * when it was made. The secret itself is returned once, to the admin who made it, and never stored.
 */
import { credentialHash, generateSecret } from "../common/identity/credentials.ts";

/** Enough for every service of a large mesh; a bound, so a loop of creates cannot fill the object. */
export const MAX_STORED_CREDENTIALS = 10_000;

export class CredentialStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS credentials (spiffe_id TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL)");
  }

  hashOf(spiffeId: string): string | undefined {
    return this.sql.exec<{ hash: string }>("SELECT hash FROM credentials WHERE spiffe_id = ?", spiffeId).toArray()[0]?.hash;
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM credentials").one().n;
  }

  /** A new secret for `spiffeId`: stores its hash and returns the secret, or undefined if it has one already. */
  async create(spiffeId: string, now: number): Promise<string | undefined> {
    const secret = generateSecret();
    const hash = await credentialHash(secret);
    // Checked after the await, with no await before the insert: two concurrent creates cannot both pass.
    if (this.hashOf(spiffeId) !== undefined) return undefined;
    this.sql.exec("INSERT INTO credentials (spiffe_id, hash, created_at) VALUES (?, ?, ?)", spiffeId, hash, now);
    return secret;
  }

  list(): { spiffeId: string; createdAt: number }[] {
    return this.sql
      .exec<{ spiffe_id: string; created_at: number }>("SELECT spiffe_id, created_at FROM credentials ORDER BY spiffe_id")
      .toArray()
      .map((row) => ({ spiffeId: row.spiffe_id, createdAt: row.created_at }));
  }

  /** Whether there was one to delete. */
  delete(spiffeId: string): boolean {
    return this.sql.exec("DELETE FROM credentials WHERE spiffe_id = ?", spiffeId).rowsWritten > 0;
  }
}
