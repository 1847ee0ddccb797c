/**
 * Workloads' bootstrap credentials, as the Issuer checks them: those of the MESH_WORKLOAD_CREDENTIALS
 * secret, and those made at run time through the admin API, kept in the Issuer's SQLite storage as
 * the SPIFFE ID, the SHA-256 of the secret (`sha256:<hex>`, the secret's form) and when it was made.
 * A made secret is returned once, to the admin who made it, and never stored. One credential per
 * identity at a time: a second is refused (delete, then create, to replace one), and one in the
 * secret is changed there.
 */
import { credentialHash, generateSecret } from "../common/identity/credentials.ts";
import { parseSpiffeId } from "../common/identity/spiffe-id.ts";
import type { CreateCredentialResult, CredentialInfo, DeleteCredentialResult } from "../common/protocol.ts";

/** Enough for every service of a large mesh; a bound, so a loop of creates cannot fill the object. */
export const MAX_STORED_CREDENTIALS = 10_000;

export class WorkloadCredentials {
  constructor(
    private readonly sql: SqlStorage,
    /** SPIFFE ID → hash, from MESH_WORKLOAD_CREDENTIALS. */
    private readonly fromSecret: ReadonlyMap<string, string>,
    /** Runs a write and its audit record as one transaction (the Issuer's storage.transactionSync). */
    private readonly transaction: (write: () => void) => void = (write) => write(),
  ) {
    sql.exec("CREATE TABLE IF NOT EXISTS credentials (spiffe_id TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL)");
  }

  /** Every hash a workload's credential may match (none for an unknown one). */
  hashesOf(spiffeId: string): string[] {
    const stored = this.storedHash(spiffeId);
    const secret = this.fromSecret.get(spiffeId);
    return [...(secret === undefined ? [] : [secret]), ...(stored === undefined ? [] : [stored])];
  }

  /** `audit` keeps the change's audit record, in the insert's transaction. */
  async create(spiffeId: string, trustDomain: string, audit?: (spiffeId: string) => void): Promise<CreateCredentialResult> {
    const id = typeof spiffeId === "string" ? parseSpiffeId(spiffeId) : undefined;
    if (!id || id.trustDomain !== trustDomain) {
      return { ok: false, status: 400, reason: "invalid_request", message: `spiffeId must be a SPIFFE ID spiffe://${trustDomain}/ns/<namespace>/sa/<service>` };
    }
    const exists = { ok: false, status: 409, reason: "credential_exists", message: `${id.id} has a credential already: delete it first to replace it` } as const;
    if (this.fromSecret.has(id.id)) return { ...exists, message: `${id.id} has a credential in the MESH_WORKLOAD_CREDENTIALS secret: change that secret to replace it` };
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM credentials").one().n >= MAX_STORED_CREDENTIALS) {
      return { ok: false, status: 409, reason: "too_many_credentials", message: `the issuer holds ${MAX_STORED_CREDENTIALS} credentials, its limit: delete unused ones first` };
    }
    const secret = generateSecret();
    const hash = await credentialHash(secret);
    // Checked after the await, with no await before the insert: two concurrent creates cannot both pass.
    if (this.storedHash(id.id) !== undefined) return exists;
    const createdAt = Date.now();
    this.transaction(() => {
      this.sql.exec("INSERT INTO credentials (spiffe_id, hash, created_at) VALUES (?, ?, ?)", id.id, hash, createdAt);
      audit?.(id.id);
    });
    return { ok: true, spiffeId: id.id, secret, createdAt };
  }

  /** The secret's, then the stored ones by SPIFFE ID: never a secret or a hash. */
  list(): CredentialInfo[] {
    const stored = this.sql
      .exec<{ spiffe_id: string; created_at: number }>("SELECT spiffe_id, created_at FROM credentials ORDER BY spiffe_id")
      .toArray()
      .map((row): CredentialInfo => ({ spiffeId: row.spiffe_id, source: "stored", createdAt: row.created_at }));
    return [...[...this.fromSecret.keys()].map((spiffeId): CredentialInfo => ({ spiffeId, source: "secret", createdAt: null })), ...stored];
  }

  delete(spiffeId: string, audit?: (spiffeId: string) => void): DeleteCredentialResult {
    let deleted = false;
    if (typeof spiffeId === "string") {
      this.transaction(() => {
        deleted = this.sql.exec("DELETE FROM credentials WHERE spiffe_id = ?", spiffeId).rowsWritten > 0;
        if (deleted) audit?.(spiffeId);
      });
    }
    if (deleted) return { ok: true };
    if (typeof spiffeId === "string" && this.fromSecret.has(spiffeId)) {
      return { ok: false, status: 409, reason: "credential_in_secret", message: `${spiffeId}'s credential is in the MESH_WORKLOAD_CREDENTIALS secret: remove it there` };
    }
    return { ok: false, status: 404, reason: "not_found", message: `no stored credential for ${JSON.stringify(spiffeId)}` };
  }

  private storedHash(spiffeId: string): string | undefined {
    return this.sql.exec<{ hash: string }>("SELECT hash FROM credentials WHERE spiffe_id = ?", spiffeId).toArray()[0]?.hash;
  }
}
