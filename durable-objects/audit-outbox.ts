/**
 * The audit records of changes a Durable Object makes in its own storage (the registry in a
 * BackendCoordinator, keys and credentials in the Issuer), written in the same transaction as the
 * change (`add`, synchronous: no await may come between the change's write and it), then delivered
 * to the ConfigStore's audit log. A delivery that fails stays here and the object's alarm sends it
 * again, so a change is never committed without its record, and a ConfigStore that is away delays
 * the record (which keeps the time of the change) but never loses it (a transactional outbox).
 * Records carry their source and number, so the ConfigStore takes a record sent twice (its answer
 * lost) once.
 */
import { configStoreOf, type AuditRecord, type Namespace, type OutboxRecord } from "../common/protocol.ts";
import { withTimeout } from "../common/with-timeout.ts";

/** Records sent per call, so that a long outage's backlog goes over in bounded messages. */
const BATCH = 100;
/** A delivery the ConfigStore does not answer is given up (and retried by the alarm) after this long. */
const DELIVERY_TIMEOUT_MS = 5_000;

export class AuditOutbox {
  /** The delivery under way: callers during it share it instead of sending the same batch again. */
  private delivering: Promise<boolean> | undefined;

  constructor(
    private readonly sql: SqlStorage,
    /** Who delivers: "<class>:<name>", unique per object, so the ConfigStore can order its records. */
    private readonly source: () => string,
  ) {
    sql.exec("CREATE TABLE IF NOT EXISTS audit_outbox (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, record TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS audit_outbox_seq (id INTEGER PRIMARY KEY CHECK (id = 0), last INTEGER NOT NULL)");
  }

  /** Keeps a record of a change made in this same transaction; sent by the next `deliver`. */
  add(record: AuditRecord, at = Date.now()): void {
    // Numbers never below the clock (in µs): if this object's storage is restored from an older
    // copy, new records still number above every one the ConfigStore took, so none is taken for a
    // record it has already.
    const last = this.sql.exec<{ last: number }>("SELECT last FROM audit_outbox_seq WHERE id = 0").toArray()[0]?.last ?? 0;
    const seq = Math.max(last + 1, Date.now() * 1000);
    this.sql.exec("INSERT OR REPLACE INTO audit_outbox_seq (id, last) VALUES (0, ?)", seq);
    this.sql.exec("INSERT INTO audit_outbox (seq, at, record) VALUES (?, ?, ?)", seq, at, JSON.stringify(record));
  }

  get pending(): boolean {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit_outbox").one().n > 0;
  }

  /** Sends what is kept, oldest first; true when nothing is left. A failure is logged and kept for the alarm. */
  deliver(store: Namespace | undefined): Promise<boolean> {
    if (!store) return Promise.resolve(!this.pending);
    return (this.delivering ??= this.send(store).finally(() => (this.delivering = undefined)));
  }

  private async send(store: Namespace): Promise<boolean> {
    try {
      for (;;) {
        const rows = this.sql.exec<{ seq: number; at: number; record: string }>("SELECT * FROM audit_outbox ORDER BY seq LIMIT ?", BATCH).toArray();
        if (!rows.length) return true;
        const records: OutboxRecord[] = rows.map((row) => ({ ...(JSON.parse(row.record) as AuditRecord), seq: row.seq, at: row.at }));
        await withTimeout(configStoreOf(store).appendAudits(this.source(), records), DELIVERY_TIMEOUT_MS);
        this.sql.exec("DELETE FROM audit_outbox WHERE seq <= ?", rows.at(-1)!.seq);
      }
    } catch (error) {
      console.error(JSON.stringify({ level: "error", message: "audit records not delivered to the ConfigStore; the alarm sends them again", source: this.source(), error: String(error) }));
      return false;
    }
  }
}
