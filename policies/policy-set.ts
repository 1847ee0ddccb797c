/**
 * Turns raw documents into a checked PolicySet: each document against its kind's schema, then the
 * set as a whole (duplicate names, references to unknown objects, route attachment, conflicting
 * policies). All errors are collected, so one run of `npm run validate` shows every problem.
 */
import type { z } from "zod";
import { attachRoute } from "./attachment.ts";
import { errorAt, type PolicyError, type SourceDocument } from "./errors.ts";
import { KINDS, type BackendTrafficPolicy, type PolicyDocument } from "./schema/index.ts";
import { allLocated, emptyByKind, FIELD_OF_KIND, type Located, type LocatedByKind } from "./kinds.ts";
import { checkPeerAuthentications } from "./peer-authentication-checks.ts";
import { checkPlaintextEndpoints } from "./plaintext-endpoints.ts";
import { checkObjectives } from "./slo-checks.ts";

export type { Located } from "./kinds.ts";

/** The checked documents by kind (kinds.ts names the fields), each with where it came from. */
export type PolicySet = LocatedByKind;

/** Warnings (a route that attaches to no listener, plain http:// over a network) do not make a set invalid; they are only reported. */
export type PolicySetResult = { ok: true; set: PolicySet; warnings: PolicyError[] } | { ok: false; errors: PolicyError[] };

const KNOWN_KINDS = Object.keys(KINDS).join(", ");

const UNITS: Record<string, string> = { string: " characters", array: " items", set: " items", file: " bytes" };

const typeOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value);

/** Zod's messages, made to read as a sentence about the named field. Schemas' own messages win. */
const errorMessages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return `is required (expected ${issue.expected})`;
      return `must be ${issue.expected === "array" || issue.expected === "object" ? "an" : "a"} ${issue.expected} (got ${typeOf(issue.input)})`;
    case "too_big":
      return `must be at most ${issue.maximum}${UNITS[issue.origin] ?? ""}`;
    case "too_small":
      return `must be at least ${issue.minimum}${UNITS[issue.origin] ?? ""}`;
    case "invalid_union": {
      // A discriminated union whose tag is unknown: list the tags it knows.
      const tag = "discriminator" in issue ? (issue.discriminator as string | undefined) : undefined;
      const known = tag && (issue.inst as { _zod?: { propValues?: Record<string, Set<unknown>> } } | undefined)?._zod?.propValues?.[tag];
      return known ? `must be one of ${[...known].map((value) => JSON.stringify(value)).join(", ")}` : undefined;
    }
    case "invalid_value":
      return `must be ${issue.values.length === 1 ? "" : "one of "}${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    default:
      return undefined;
  }
};

export function parsePolicySet(documents: readonly SourceDocument[]): PolicySetResult {
  const errors: PolicyError[] = [];
  const warnings: PolicyError[] = [];
  const set = emptyByKind() as PolicySet;
  for (const document of documents) {
    const parsed = parseDocument(document, errors) as PolicyDocument | undefined;
    if (parsed instanceof Object && "spec" in parsed) (set[FIELD_OF_KIND[parsed.kind]] as Located<PolicyDocument>[]).push({ document, value: parsed });
  }
  if (errors.length === 0) checkReferences(set, errors, warnings);
  return errors.length ? { ok: false, errors } : { ok: true, set, warnings };
}

function parseDocument(document: SourceDocument, errors: PolicyError[]) {
  const value = document.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push(errorAt(document, [], "must be a mapping with apiVersion, kind, metadata and spec"));
    return undefined;
  }
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  const schema = KINDS[`${String(apiVersion)} ${String(kind)}` as keyof typeof KINDS];
  if (!schema) {
    errors.push(
      errorAt(document, ["kind"], `unknown apiVersion and kind "${String(apiVersion)} ${String(kind)}" (expected one of: ${KNOWN_KINDS})`),
    );
    return undefined;
  }
  const result = schema.safeParse(value, { error: errorMessages });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) errors.push(errorAt(document, [...issue.path, key], "is not a known field"));
    } else {
      errors.push(errorAt(document, issue.path, issue.message));
    }
  }
  return undefined;
}

const keyOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

function checkReferences(set: PolicySet, errors: PolicyError[], warnings: PolicyError[]): void {
  const seen = new Map<string, SourceDocument>();
  for (const { document, value } of allLocated(set)) {
    const key = keyOf(value.kind, value.metadata.namespace, value.metadata.name);
    const first = seen.get(key);
    if (first) errors.push(errorAt(document, ["metadata", "name"], `is already used by the same kind in ${first.source}`));
    else seen.set(key, document);
  }

  const requireBackend = (document: SourceDocument, path: PropertyKey[], namespace: string, name: string) => {
    if (!seen.has(keyOf("Backend", namespace, name))) errors.push(errorAt(document, path, `refers to unknown Backend "${name}"`));
  };
  const gateways = set.gateways.map((located) => located.value);
  for (const { document, value: route } of set.routes) {
    for (const problem of attachRoute(route, gateways).problems) {
      (problem.severity === "error" ? errors : warnings).push(errorAt(document, problem.path, problem.message));
    }
    const namespace = route.metadata.namespace;
    route.spec.rules.forEach((rule, r) => {
      rule.backendRefs?.forEach((ref, b) =>
        requireBackend(document, ["spec", "rules", r, "backendRefs", b, "name"], ref.namespace ?? namespace, ref.name),
      );
      rule.filters?.forEach((filter, f) => {
        if (filter.type !== "RequestMirror") return;
        const ref = filter.requestMirror.backendRef;
        requireBackend(document, ["spec", "rules", r, "filters", f, "requestMirror", "backendRef", "name"], ref.namespace ?? namespace, ref.name);
      });
    });
  }

  for (const { document, value: policy } of set.requestAuthentications) {
    policy.spec.targetRefs?.forEach((ref, t) => {
      if (!seen.has(keyOf(ref.kind, policy.metadata.namespace, ref.name))) errors.push(errorAt(document, ["spec", "targetRefs", t, "name"], `refers to unknown ${ref.kind} "${ref.name}" in namespace "${policy.metadata.namespace}"`));
    });
  }

  const claimedBy = new Map<string, Located<BackendTrafficPolicy>>();
  for (const located of set.trafficPolicies) {
    const { document, value: policy } = located;
    policy.spec.targetRefs.forEach((ref, t) => {
      const path = ["spec", "targetRefs", t, "name"];
      const target = keyOf(ref.kind, policy.metadata.namespace, ref.name);
      if (!seen.has(target)) return errors.push(errorAt(document, path, `refers to unknown ${ref.kind} "${ref.name}"`));
      const owner = claimedBy.get(target);
      if (owner) {
        return errors.push(
          errorAt(document, path, `${ref.kind} "${ref.name}" is already targeted by BackendTrafficPolicy/${owner.value.metadata.name}`),
        );
      }
      claimedBy.set(target, located);
    });
  }
  checkPeerAuthentications(set, errors, warnings);
  checkPlaintextEndpoints(set, warnings);

  // Security policies' targets must exist (a typo would leave the target unprotected, or unreachable).
  for (const { document, value: policy } of set.authorizationPolicies) {
    policy.spec.targetRefs?.forEach((ref, t) => {
      if (!seen.has(keyOf(ref.kind, policy.metadata.namespace, ref.name))) {
        errors.push(errorAt(document, ["spec", "targetRefs", t, "name"], `refers to unknown ${ref.kind} "${ref.name}" in namespace "${policy.metadata.namespace}"`));
      }
    });
  }
  checkObjectives(set, errors);
}

