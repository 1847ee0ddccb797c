/**
 * Policy documents as the schemas normalized them (defaults applied), so that a gateway isolate can
 * compile them without validating again: `npm run policies:bundle` and the ConfigStore validate once
 * and ship these, stamped with the fingerprint of the schemas that made them. A set stamped otherwise
 * (another deploy's schemas, during a rollout) is validated again by the receiver instead of trusted.
 * Validating 10 000 routes costs a third of a second of CPU or more; the trusted path only sorts by kind.
 */
import type { SourceDocument } from "./errors.ts";
import type { PolicySet } from "./policy-set.ts";
import type { Backend, BackendTrafficPolicy, Gateway, HTTPRoute } from "./schema/index.ts";
import { SCHEMA_FINGERPRINT } from "./schema-fingerprint.ts";

export { SCHEMA_FINGERPRINT };

/** The checked set's values in the order of `documents` (the SourceDocuments it was parsed from). */
export function normalizedValues(set: PolicySet, documents: readonly SourceDocument[]): unknown[] {
  const values = new Map<SourceDocument, unknown>();
  for (const { document, value } of [...set.gateways, ...set.routes, ...set.backends, ...set.trafficPolicies]) values.set(document, value);
  return documents.map((document) => {
    if (!values.has(document)) throw new Error(`document ${document.index + 1} of ${document.source} is not in the checked set`);
    return values.get(document);
  });
}

/** A checked set's objects by kind, without where each came from: what the routing table compiles. */
export interface PolicyValues {
  gateways: Gateway[];
  routes: HTTPRoute[];
  backends: Backend[];
  trafficPolicies: BackendTrafficPolicy[];
}

export function valuesOf(set: PolicySet): PolicyValues {
  return {
    gateways: set.gateways.map((located) => located.value),
    routes: set.routes.map((located) => located.value),
    backends: set.backends.map((located) => located.value),
    trafficPolicies: set.trafficPolicies.map((located) => located.value),
  };
}

/**
 * Values normalized by these schemas (`schema` was their SCHEMA_FINGERPRINT), by kind, taken as they
 * are: no schema, no reference checks, nothing made per document. Only for values from normalizedValues.
 */
export function trustedValues(values: readonly unknown[]): PolicyValues {
  const set: PolicyValues = { gateways: [], routes: [], backends: [], trafficPolicies: [] };
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as Gateway | HTTPRoute | Backend | BackendTrafficPolicy;
    if (value.kind === "HTTPRoute") set.routes.push(value);
    else if (value.kind === "Gateway") set.gateways.push(value);
    else if (value.kind === "Backend") set.backends.push(value);
    else if (value.kind === "BackendTrafficPolicy") set.trafficPolicies.push(value);
    else throw new Error(`document ${index + 1}: unknown kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
  }
  return set;
}
