/**
 * The ConfigStore's versions in its SQLite storage: immutable, numbered from 1, one row per version
 * and one row per document. A Durable Object's SQLite row holds at most 2 MB, so a whole policy set in
 * one row broke at that size (SQLITE_TOOBIG); per-document rows make the limit per document instead.
 * Versions persisted before that (documents and sources as JSON in the version's own row,
 * `document_count` null) still read, unchanged. The newest VERSIONS_KEPT versions are kept, as far
 * as VERSION_BYTES_KEPT of them reach (common/config-limits.ts).
 */
import { VERSION_BYTES_KEPT, VERSIONS_KEPT } from "../common/config-limits.ts";
import type { Json, VersionSummary } from "../common/protocol.ts";

/** A version as it reads: `documents` and `sources` as JSON arrays, whichever way it was stored. */
export interface VersionRow extends Record<string, SqlStorageValue> {
  version: number;
  documents: string;
  sources: string;
  created_at: number;
  actor: string;
  action: string;
  message: string;
  document_count: number | null;
}

export class VersionStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: Pick<DurableObjectStorage, "transactionSync">,
    private readonly kept: { versions: number; bytes: number } = { versions: VERSIONS_KEPT, bytes: VERSION_BYTES_KEPT },
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS versions (
      version INTEGER PRIMARY KEY, documents TEXT NOT NULL, sources TEXT NOT NULL,
      created_at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, message TEXT NOT NULL, document_count INTEGER)`);
    const columns = sql.exec("SELECT * FROM versions LIMIT 0").columnNames;
    if (!columns.includes("document_count")) sql.exec("ALTER TABLE versions ADD COLUMN document_count INTEGER");
    // The stored size of a version's documents and sources, for the byte budget (null: stored before it was kept).
    if (!columns.includes("bytes")) sql.exec("ALTER TABLE versions ADD COLUMN bytes INTEGER");
    sql.exec(`CREATE TABLE IF NOT EXISTS version_documents (
      version INTEGER NOT NULL, position INTEGER NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
      source TEXT, document TEXT NOT NULL, PRIMARY KEY (version, position))`);
    sql.exec("CREATE INDEX IF NOT EXISTS version_documents_by_object ON version_documents (version, kind, namespace, name)");
    // Versions stored before the size was kept: sized from their rows (their documents may be in version_documents).
    sql.exec(`UPDATE versions SET bytes = length(documents) + length(sources) + COALESCE(
      (SELECT SUM(length(document) + COALESCE(length(source), 0)) FROM version_documents d WHERE d.version = versions.version), 0) WHERE bytes IS NULL`);
  }

  current(): number {
    return this.sql.exec<{ version: number | null }>("SELECT MAX(version) AS version FROM versions").one().version ?? 0;
  }

  row(version: number): VersionRow | undefined {
    const row = this.sql.exec<VersionRow>("SELECT * FROM versions WHERE version = ?", version).toArray()[0];
    if (!row || row.document_count === null) return row;
    const parts = this.sql
      .exec<{ source: string | null; document: string }>("SELECT source, document FROM version_documents WHERE version = ? ORDER BY position", version)
      .toArray();
    // Sources are optional and parallel to the documents: the first missing one ends the list, as before.
    const sources = parts.map((part) => part.source);
    const missing = sources.indexOf(null);
    return { ...row, documents: `[${parts.map((part) => part.document).join(",")}]`, sources: JSON.stringify(missing < 0 ? sources : sources.slice(0, missing)) };
  }

  documents(version: number): Json[] {
    const row = this.row(version);
    return row ? JSON.parse(row.documents) : [];
  }

  /** The oldest version kept (versions below it were dropped): 1 until versions are dropped. */
  oldestKept(): number {
    return this.sql.exec<{ version: number | null }>("SELECT MIN(version) AS version FROM versions").one().version ?? 1;
  }

  /** Why a version cannot be read: never made, or dropped (only the newest are kept). */
  missing(version: number): string {
    const oldest = this.oldestKept();
    return Number.isInteger(version) && version > 0 && version < oldest
      ? `version ${version} was dropped: the store keeps the newest versions, ${VERSIONS_KEPT} at most and 1 GiB in all (now ${oldest} to ${this.current()}); the audit log still has its changes`
      : `version ${version} does not exist`;
  }

  /**
   * Stores the next version: its row and one row per document, in order, and drops the versions past
   * the newest `kept`, all or nothing. `serialized`: the documents as JSON.
   */
  /** Stores the next version; `alongside` writes what must commit with it (its audit entry, its change to publish), in one transaction. */
  append(documents: readonly Json[], serialized: readonly string[], sources: readonly string[], actor: string, action: string, message: string, alongside: (version: number) => void = () => undefined): number {
    const version = this.current() + 1;
    this.storage.transactionSync(() => {
      const bytes = serialized.reduce((sum, document) => sum + document.length, 0) + sources.reduce((sum, source) => sum + source.length, 0);
      this.sql.exec(
        "INSERT INTO versions (version, documents, sources, created_at, actor, action, message, document_count, bytes) VALUES (?, '', '', ?, ?, ?, ?, ?, ?)",
        version,
        Date.now(),
        actor,
        action,
        message,
        serialized.length,
        bytes,
      );
      serialized.forEach((document, position) => {
        const [kind, namespace, name] = objectKey(documents[position]!);
        this.sql.exec(
          "INSERT INTO version_documents (version, position, kind, namespace, name, source, document) VALUES (?, ?, ?, ?, ?, ?, ?)",
          version,
          position,
          kind,
          namespace,
          name,
          sources[position] ?? null,
          document,
        );
      });
      const oldestKept = this.oldestWithinBudget(version);
      this.sql.exec("DELETE FROM version_documents WHERE version < ?", oldestKept);
      this.sql.exec("DELETE FROM versions WHERE version < ?", oldestKept);
      alongside(version);
    });
    return version;
  }

  /** The oldest version that the newest `kept.versions`, within `kept.bytes` together, reach back to (the current one always). */
  private oldestWithinBudget(current: number): number {
    const newest = this.sql
      .exec<{ version: number; bytes: number }>(
        "SELECT version, bytes FROM versions ORDER BY version DESC LIMIT ?",
        this.kept.versions,
      )
      .toArray();
    let oldest = current;
    let total = 0;
    for (const row of newest) {
      total += row.bytes;
      if (total > this.kept.bytes && row.version !== current) break;
      oldest = row.version;
    }
    return oldest;
  }

  history(limit: number, before = Number.MAX_SAFE_INTEGER): VersionSummary[] {
    return this.sql.exec<VersionRow>("SELECT * FROM versions WHERE version < ? ORDER BY version DESC LIMIT ?", before, limit).toArray().map(summarize);
  }

  /** One object of the current version, by kind and "name" or "namespace/name", without reading the others. */
  currentObject(kind: string, object: string): Json | undefined {
    const [namespace, name] = object.includes("/") ? object.split("/", 2) : ["default", object];
    const version = this.current();
    const row = this.sql.exec<VersionRow>("SELECT * FROM versions WHERE version = ?", version).toArray()[0];
    if (!row) return undefined;
    if (row.document_count === null) {
      return (JSON.parse(row.documents) as Json[]).find((document) => objectKey(document).join("/") === `${kind}/${namespace}/${name}`);
    }
    const found = this.sql
      .exec<{ document: string }>("SELECT document FROM version_documents WHERE version = ? AND kind = ? AND namespace = ? AND name = ?", version, kind, namespace!, name!)
      .toArray()[0];
    return found && JSON.parse(found.document);
  }
}

export function summarize(row: VersionRow): VersionSummary {
  return {
    version: row.version,
    createdAt: row.created_at,
    actor: row.actor,
    action: row.action as VersionSummary["action"],
    message: row.message,
    documents: row.document_count ?? (JSON.parse(row.documents) as Json[]).length,
  };
}

/** Kind, namespace and name of a document (empty strings for what a document lacks). */
function objectKey(document: Json): [string, string, string] {
  const value = document as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  const text = (field: unknown, fallback = "") => (typeof field === "string" ? field : fallback);
  return [text(value?.kind), text(value?.metadata?.namespace, "default"), text(value?.metadata?.name)];
}
