/**
 * Policy documents as the schemas normalized them (defaults applied), so that a gateway isolate can
 * compile them without validating again: `npm run policies:bundle` and the ConfigStore validate once
 * and ship these, stamped with the fingerprint of the schemas that made them. A set stamped otherwise
 * (another deploy's schemas, during a rollout) is validated again by the receiver instead of trusted.
 * Validating 10 000 routes costs about a second of CPU; the trusted path builds the set by kind only.
 */
import type { SourceDocument } from "./errors.ts";
import type { PolicySet } from "./policy-set.ts";
import type { Backend, BackendTrafficPolicy, HTTPRoute } from "./schema/index.ts";
import { SCHEMA_FINGERPRINT } from "./schema-fingerprint.ts";

export { SCHEMA_FINGERPRINT };

/** The checked set's values in the order of `documents` (the SourceDocuments it was parsed from). */
export function normalizedValues(set: PolicySet, documents: readonly SourceDocument[]): unknown[] {
  const values = new Map<SourceDocument, unknown>();
  for (const { document, value } of [...set.routes, ...set.backends, ...set.trafficPolicies]) values.set(document, value);
  return documents.map((document) => {
    if (!values.has(document)) throw new Error(`document ${document.index + 1} of ${document.source} is not in the checked set`);
    return values.get(document);
  });
}

/**
 * A PolicySet from values normalized by these schemas (`schema` is their SCHEMA_FINGERPRINT), taken as
 * they are: no schema, no reference checks. Only for values from normalizedValues.
 */
export function trustedPolicySet(values: readonly unknown[], sources: readonly string[]): PolicySet {
  const set: PolicySet = { routes: [], backends: [], trafficPolicies: [] };
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as HTTPRoute | Backend | BackendTrafficPolicy;
    const document: SourceDocument = { source: sources[index] ?? "control plane", index, value };
    if (value.kind === "HTTPRoute") set.routes.push({ document, value });
    else if (value.kind === "Backend") set.backends.push({ document, value });
    else if (value.kind === "BackendTrafficPolicy") set.trafficPolicies.push({ document, value });
    else throw new Error(`document ${index + 1} of ${document.source}: unknown kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
  }
  return set;
}
