/**
 * The ConfigStore's audit log: one append-only SQLite table that every change writes to, whoever
 * makes it: configuration versions, the admin API's other changes (registry, keys, credentials) and
 * gateways' authorization denials. One insert for all three. No method edits a row, and changes are
 * never deleted; authorization entries, which any client can cause (up to the store's admission cap,
 * 600 a minute), are kept to the newest AUTHZ_ENTRIES_KEPT, so that they cannot fill the store.
 */
import { AUDIT_DETAIL_BYTES, type AuditEntry, type AuditRecord } from "../common/protocol.ts";

/** Authorization entries kept (about four days at the admission cap); older ones are dropped. */
export const AUTHZ_ENTRIES_KEPT = 250_000;
/** Authorization entries between two prunings (a pruning scans the table). */
const PRUNE_EVERY = 1_000;

export class AuditLog {
  private authzSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS audit (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
      from_version INTEGER, to_version INTEGER, detail TEXT NOT NULL)`);
  }

  append(at: number, actor: string, action: string, fromVersion: number | null, toVersion: number | null, detail: unknown): number {
    return this.sql
      .exec<{ id: number }>("INSERT INTO audit (at, actor, action, from_version, to_version, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id", at, actor, action, fromVersion, toVersion, JSON.stringify(detail))
      .one().id;
  }

  /** Gateways' authorization entries (`authz.*`); keeps the newest `kept` of them. */
  appendAuthz(entries: readonly { at: number; actor: string; action: string; detail: unknown }[], kept = AUTHZ_ENTRIES_KEPT): void {
    for (const entry of entries) this.append(entry.at, entry.actor, entry.action, null, null, entry.detail);
    this.authzSincePrune += entries.length;
    if (this.authzSincePrune >= Math.min(PRUNE_EVERY, kept)) this.pruneAuthz(kept);
  }

  /** Drops all but the newest `kept` authorization entries; every other entry stays. */
  pruneAuthz(kept = AUTHZ_ENTRIES_KEPT): void {
    this.authzSincePrune = 0;
    const oldestKept = this.sql.exec<{ id: number }>("SELECT id FROM audit WHERE action LIKE 'authz.%' ORDER BY id DESC LIMIT 1 OFFSET ?", kept - 1).toArray()[0];
    if (oldestKept) this.sql.exec("DELETE FROM audit WHERE action LIKE 'authz.%' AND id < ?", oldestKept.id);
  }

  /** A record from the admin API (outside the configuration), checked: it comes over RPC. */
  appendRecord(record: AuditRecord): number {
    const detail = JSON.stringify(record.detail ?? {});
    if (typeof record.actor !== "string" || !record.actor || typeof record.action !== "string" || detail.length > AUDIT_DETAIL_BYTES) {
      throw new Error(`an audit record needs an actor, an action and at most ${AUDIT_DETAIL_BYTES} bytes of detail`);
    }
    return this.append(Date.now(), record.actor.slice(0, 2048), record.action, null, null, record.detail ?? {});
  }

  /** Newest first, `limit` entries with ids below `before`. */
  read(limit = 100, before?: number): AuditEntry[] {
    return this.sql
      .exec<{ id: number; at: number; actor: string; action: string; from_version: number | null; to_version: number | null; detail: string }>(
        "SELECT * FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map((row) => ({ id: row.id, at: row.at, actor: row.actor, action: row.action, fromVersion: row.from_version, toVersion: row.to_version, detail: JSON.parse(row.detail) }));
  }
}
