/**
 * Policy documents as the schemas normalized them (defaults applied), so that a gateway isolate can
 * compile them without validating again: `npm run policies:bundle` and the ConfigStore validate once
 * and ship these, stamped with the fingerprint of the schemas that made them. A set stamped otherwise
 * (another deploy's schemas, during a rollout) is validated again by the receiver instead of trusted.
 * Validating 10 000 routes costs a third of a second of CPU or more; the trusted path only sorts by kind.
 */
import type { SourceDocument } from "./errors.ts";
import type { PolicySet } from "./policy-set.ts";
import { allLocated, emptyByKind, FIELD_OF_KIND, type ValuesByKind } from "./kinds.ts";
import type { PolicyDocument } from "./schema/index.ts";
import { SCHEMA_FINGERPRINT } from "./schema-fingerprint.ts";

export { SCHEMA_FINGERPRINT };

/** The checked set's values in the order of `documents` (the SourceDocuments it was parsed from). */
export function normalizedValues(set: PolicySet, documents: readonly SourceDocument[]): unknown[] {
  const values = new Map<SourceDocument, unknown>();
  for (const { document, value } of allLocated(set)) values.set(document, value);
  return documents.map((document) => {
    if (!values.has(document)) throw new Error(`document ${document.index + 1} of ${document.source} is not in the checked set`);
    return values.get(document);
  });
}

/** A checked set's objects by kind, without where each came from: what the routing table compiles. */
export type PolicyValues = ValuesByKind;

export function valuesOf(set: PolicySet): PolicyValues {
  const values = emptyByKind() as PolicyValues;
  for (const field of Object.values(FIELD_OF_KIND)) (values[field] as PolicyDocument[]) = (set[field] as { value: PolicyDocument }[]).map((located) => located.value);
  return values;
}

/**
 * Values normalized by these schemas (`schema` was their SCHEMA_FINGERPRINT), by kind, taken as they
 * are: no schema, no reference checks, nothing made per document. Only for values from normalizedValues.
 */
export function trustedValues(values: readonly unknown[]): PolicyValues {
  const set = emptyByKind() as PolicyValues;
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as PolicyDocument;
    const field = FIELD_OF_KIND[value.kind];
    if (!field) throw new Error(`document ${index + 1}: unknown kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
    (set[field] as PolicyDocument[]).push(value);
  }
  return set;
}
