/**
 * The field of a policy set (PolicySet, PolicyValues) that holds each kind, in one place: adding a
 * kind to schema/index.ts and here is all the set, the bundle and the snapshot need.
 */
import type { SourceDocument } from "./errors.ts";
import type { PolicyDocument } from "./schema/index.ts";

export const FIELD_OF_KIND = {
  Gateway: "gateways",
  HTTPRoute: "routes",
  Backend: "backends",
  BackendTrafficPolicy: "trafficPolicies",
  PeerAuthentication: "peerAuthentications",
  RequestAuthentication: "requestAuthentications",
  AuthorizationPolicy: "authorizationPolicies",
  AdminRoleBinding: "adminRoleBindings",
  ServiceLevelObjective: "serviceLevelObjectives",
} as const satisfies Record<PolicyDocument["kind"], string>;

type Kind = keyof typeof FIELD_OF_KIND;
type DocumentOf<K extends Kind> = Extract<PolicyDocument, { kind: K }>;

export interface Located<T> {
  document: SourceDocument;
  value: T;
}

/** One list of documents per kind. */
export type ValuesByKind = { [K in Kind as (typeof FIELD_OF_KIND)[K]]: DocumentOf<K>[] };
/** One list per kind of documents with where each came from. */
export type LocatedByKind = { [K in Kind as (typeof FIELD_OF_KIND)[K]]: Located<DocumentOf<K>>[] };

export function emptyByKind(): Record<(typeof FIELD_OF_KIND)[Kind], unknown[]> {
  const set = {} as Record<(typeof FIELD_OF_KIND)[Kind], unknown[]>;
  for (const field of Object.values(FIELD_OF_KIND)) set[field] = [];
  return set;
}

/** Every checked document of the set, kind by kind in kinds.ts's order. */
export function allLocated(set: LocatedByKind): Located<PolicyDocument>[] {
  return Object.values(FIELD_OF_KIND).flatMap((field) => set[field] as Located<PolicyDocument>[]);
}
