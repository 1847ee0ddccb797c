/**
 * How big a policy set may be, and why. Durable Object SQLite rows hold at most 2 MB, so a version is
 * stored one row per document; the whole set travels in one RPC call (32 MiB) and one KV snapshot
 * value (25 MiB). A 10,000-route set is about 2 MB of JSON: these limits leave it room.
 */
const MiB = 1024 * 1024;

export const POLICY_SET_LIMITS = {
  /** An apply request's body, refused with 413 by the admin API before it reaches the ConfigStore. */
  bodyBytes: 5 * MiB,
  /** Documents and their source names together, as JSON: the same bound for callers of the RPC method. */
  setBytes: 5 * MiB,
  /** Documents per version. */
  documents: 20_000,
  /** One document, as JSON: well under the 2 MB row limit. */
  documentBytes: 1 * MiB,
  /** Any other admin request's body (registration, rollback...). */
  otherBodyBytes: 64 * 1024,
} as const;

export const formatBytes = (bytes: number) => (bytes % MiB === 0 ? `${bytes} bytes (${bytes / MiB} MiB)` : bytes % 1024 === 0 ? `${bytes} bytes (${bytes / 1024} KiB)` : `${bytes} bytes`);

const encoder = new TextEncoder();
const utf8Length = (text: string) => encoder.encode(text).byteLength;

/** Why a policy set is too big to store, or undefined; `serialized` holds the documents as JSON. */
export function policySetTooBig(serialized: readonly string[], sources: readonly string[]): string | undefined {
  const { documents: maxDocuments, documentBytes, setBytes } = POLICY_SET_LIMITS;
  if (serialized.length > maxDocuments) return `the policy set has ${serialized.length} documents; the limit is ${maxDocuments}`;
  let total = utf8Length(JSON.stringify(sources));
  for (const [index, document] of serialized.entries()) {
    const bytes = utf8Length(document);
    if (bytes > documentBytes) {
      return `document ${index + 1}${sources[index] ? ` (${sources[index]})` : ""} is ${bytes} bytes as JSON; the limit per document is ${formatBytes(documentBytes)}`;
    }
    total += bytes;
  }
  return total > setBytes ? `the policy set is ${total} bytes as JSON; the limit is ${formatBytes(setBytes)}` : undefined;
}

/** The audit entry of one change stays well under the row limit, however many objects it touched. */
const AUDIT_CHANGES_BYTES = 256 * 1024;

/** Changes as the audit log keeps them: in full; else without field details; else the first ones, with a count of the rest. */
export function auditedChanges<T extends { object: string; change: string }>(changes: T[]): { changes: (T | Pick<T, "object" | "change">)[]; changesOmitted?: number } {
  if (JSON.stringify(changes).length <= AUDIT_CHANGES_BYTES) return { changes };
  let kept: Pick<T, "object" | "change">[] = changes.map(({ object, change }) => ({ object, change }) as Pick<T, "object" | "change">);
  while (JSON.stringify(kept).length > AUDIT_CHANGES_BYTES) kept = kept.slice(0, Math.floor(kept.length / 2));
  return { changes: kept, ...(kept.length < changes.length && { changesOmitted: changes.length - kept.length }) };
}

/**
 * Configuration versions the ConfigStore keeps: the newest 1 000, as far as 1 GiB of documents
 * reaches (a version may hold 5 MiB, and a Durable Object 10 GB in all), so that history cannot fill
 * the store. Older ones are dropped whole (row and documents) when a new one is stored; the audit
 * log keeps who changed what in each (its diff) for ever.
 */
export const VERSIONS_KEPT = 1_000;
export const VERSION_BYTES_KEPT = 1024 * MiB;
