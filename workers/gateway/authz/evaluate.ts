/**
 * The AuthorizationPolicies that apply to one BackendTarget, compiled once (table/rule.ts) and
 * evaluated per request, in Istio's order: a matching DENY denies; then, if any ALLOW policy applies,
 * a request that none of them matches is denied; otherwise it is allowed. AUDIT policies only mark
 * the requests they match (outcome.authz.audit). Dry-run policies are evaluated apart, as Istio's
 * shadow rules are (DENY, then ALLOW, among the dry-run policies alone): what they would deny is
 * recorded and audited, never enforced.
 */
import type { AuthorizationPolicy } from "../../../policies/schema/index.ts";
import type { AuthzRequest } from "./request.ts";
import { compileRules, type Predicate } from "./rules.ts";

export interface CompiledPolicy {
  /** "namespace/name". */
  readonly name: string;
  readonly action: AuthorizationPolicy["spec"]["action"];
  readonly dryRun: boolean;
  readonly matches: Predicate;
}

export function compilePolicy(policy: AuthorizationPolicy): CompiledPolicy {
  const { action, dryRun, rules } = policy.spec;
  return {
    name: `${policy.metadata.namespace}/${policy.metadata.name}`,
    action,
    dryRun: dryRun === true,
    matches: compileRules(rules, action === "ALLOW" ? "every" : "some"),
  };
}

interface PolicyGroup {
  readonly deny: readonly CompiledPolicy[];
  readonly allow: readonly CompiledPolicy[];
}

export interface Authorizer {
  readonly enforced: PolicyGroup;
  readonly dryRun: PolicyGroup | undefined;
  readonly audit: readonly CompiledPolicy[];
}

/** What the policies decided, as the outcome records it. */
export interface AuthzDecision {
  decision: "allow" | "deny";
  /** The deciding policy ("namespace/name"; the ALLOW policies, comma-separated, when none matched). */
  policy?: string;
  action?: "ALLOW" | "DENY";
  /** The decision is a dry-run policy's: it would deny, and did not. */
  dryRun?: true;
  /** AUDIT policies that matched. */
  audit?: string[];
}

/** The policies' evaluator, or undefined when none applies (the request then pays nothing). */
export function compileAuthorizer(policies: readonly CompiledPolicy[]): Authorizer | undefined {
  if (!policies.length) return undefined;
  const group = (dryRun: boolean): PolicyGroup => ({
    deny: policies.filter((policy) => policy.action === "DENY" && policy.dryRun === dryRun),
    allow: policies.filter((policy) => policy.action === "ALLOW" && policy.dryRun === dryRun),
  });
  const shadow = group(true);
  return {
    enforced: group(false),
    dryRun: shadow.deny.length || shadow.allow.length ? shadow : undefined,
    audit: policies.filter((policy) => policy.action === "AUDIT"),
  };
}

const MAX_NAMED = 5;

function decide(group: PolicyGroup, request: AuthzRequest): AuthzDecision | undefined {
  for (const policy of group.deny) if (policy.matches(request)) return { decision: "deny", policy: policy.name, action: "DENY" };
  if (!group.allow.length) return undefined;
  for (const policy of group.allow) if (policy.matches(request)) return undefined;
  const names = group.allow.slice(0, MAX_NAMED).map((policy) => policy.name);
  if (group.allow.length > MAX_NAMED) names.push(`and ${group.allow.length - MAX_NAMED} more`);
  return { decision: "deny", policy: names.join(", "), action: "ALLOW" };
}

/** The usual decision, shared: a decision is never changed once made (audit makes a copy). */
export const ALLOWED: AuthzDecision = Object.freeze({ decision: "allow" });

export function authorize(authorizer: Authorizer, request: AuthzRequest): AuthzDecision {
  let result: AuthzDecision = decide(authorizer.enforced, request) ?? ALLOWED;
  if (result.decision === "allow" && authorizer.dryRun) {
    const shadow = decide(authorizer.dryRun, request);
    if (shadow) result = { ...shadow, dryRun: true };
  }
  if (authorizer.audit.length) {
    const audit = authorizer.audit.filter((policy) => policy.matches(request)).map((policy) => policy.name);
    if (audit.length) result = { ...result, audit };
  }
  return result;
}

/** The 403's message: which policy, and how it denied. */
export function denialMessage(decision: AuthzDecision): string {
  return decision.action === "DENY"
    ? `denied by AuthorizationPolicy ${decision.policy} (action DENY: a rule matches the request)`
    : `denied by AuthorizationPolicy ${decision.policy} (action ALLOW: no rule matches the request)`;
}
