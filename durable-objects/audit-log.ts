/**
 * The ConfigStore's audit log: one append-only SQLite table (no method edits or deletes a row) that
 * every change writes to, whoever makes it: configuration versions, the admin API's other changes
 * (registry, keys, credentials) and gateways' authorization denials. One insert for all three.
 */
import { AUDIT_DETAIL_BYTES, type AuditEntry, type AuditRecord } from "../common/protocol.ts";

export class AuditLog {
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
