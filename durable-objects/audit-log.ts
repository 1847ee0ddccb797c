/**
 * The ConfigStore's audit log: one append-only SQLite table that every change writes to, whoever
 * makes it: configuration versions, the changes other objects make at the admin API's request
 * (registry, keys, credentials: delivered from their outboxes) and gateways' authorization denials. One insert for all three. No method edits a row, and changes are
 * never deleted; authorization entries, which any client can cause (up to the store's admission cap,
 * 600 a minute), are kept to the newest AUTHZ_ENTRIES_KEPT, so that they cannot fill the store.
 */
import { AUDIT_DETAIL_BYTES, type AuditEntry, type AuditRecord, type OutboxRecord } from "../common/protocol.ts";

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
    sql.exec("CREATE TABLE IF NOT EXISTS audit_sources (source TEXT PRIMARY KEY, seq INTEGER NOT NULL)");
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

  /**
   * Records an object delivers from its outbox (audit-outbox.ts), in order, each once by its `seq`,
   * at the time of its change (never later than now). They come over RPC, so they are checked; a
   * record that fails the checks is kept in a form that passes them rather than refused, since a
   * refused record would stay first in its outbox and hold back every record after it. Returns the
   * source's last seq taken. The caller runs it in one transaction.
   */
  appendDelivered(source: string, records: readonly OutboxRecord[]): number {
    if (typeof source !== "string" || !source || source.length > 512 || !Array.isArray(records)) throw new Error("audit records need their source");
    let last = this.sql.exec<{ seq: number }>("SELECT seq FROM audit_sources WHERE source = ?", source).toArray()[0]?.seq ?? 0;
    const now = Date.now();
    for (const record of records) {
      if (!Number.isSafeInteger(record?.seq)) throw new Error("an audit record needs its seq");
      if (record.seq <= last) continue;
      this.appendChecked(Number.isFinite(record.at) ? Math.min(record.at, now) : now, record, source);
      last = record.seq;
    }
    this.sql.exec("INSERT OR REPLACE INTO audit_sources (source, seq) VALUES (?, ?)", source, last);
    return last;
  }

  /** A record from RPC, in a form that passes the checks (see appendDelivered). */
  appendChecked(at: number, record: AuditRecord, source: string): void {
    const actor = typeof record.actor === "string" && record.actor ? record.actor.slice(0, 2048) : `unknown (from ${source})`;
    const action = typeof record.action === "string" ? record.action.slice(0, 64) : "unknown";
    const detail = JSON.stringify(record.detail ?? {});
    this.append(at, actor, action, null, null, detail.length <= AUDIT_DETAIL_BYTES ? (record.detail ?? {}) : { detailTooLarge: detail.length });
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
