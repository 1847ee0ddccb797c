/**
 * The documents the KV snapshot carries: the current version's as validated, defaults applied
 * (policies/normalized.ts), so that gateways compile them without validating again. Computed once per
 * version (versions are immutable) and per object lifetime. A version that no longer validates (the
 * schemas moved on since it was stored) is published as stored and unstamped: gateways validate it,
 * and keep their last good table if it fails.
 */
import type { SourceDocument } from "../policies/errors.ts";
import { normalizedValues, SCHEMA_FINGERPRINT } from "../policies/normalized.ts";
import { parsePolicySet } from "../policies/policy-set.ts";
import type { Json } from "../common/protocol.ts";

export interface SnapshotDocumentsOf {
  documents: Json[];
  /** SCHEMA_FINGERPRINT, or "" for documents as stored. */
  schema: string;
}

export class SnapshotDocuments {
  private last: { version: number; result: SnapshotDocumentsOf } | undefined;

  /** `stored`: the version's documents as stored (JSON text); `sources`: their file names. */
  of(version: number, stored: string, sources: readonly string[]): SnapshotDocumentsOf {
    if (this.last?.version === version) return this.last.result;
    const values = JSON.parse(stored) as Json[];
    const documents = values.map((value, index): SourceDocument => ({ source: sources[index] ?? "request", index, value }));
    const checked = parsePolicySet(documents);
    const result = checked.ok
      ? { documents: normalizedValues(checked.set, documents) as Json[], schema: SCHEMA_FINGERPRINT }
      : { documents: values, schema: "" };
    this.last = { version, result };
    return result;
  }
}
