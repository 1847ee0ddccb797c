/**
 * The RequestAuthentications of a rule, compiled once per table version when the rule is: which
 * jwtRules apply (PolicyAttachments; for a rule that splits over several backends, every rule that
 * applies to any of them, so whether a token is accepted never depends on the weighted draw), where
 * their tokens are looked for, and which claim headers every request loses whatever it carries.
 */
import type { Verifier } from "../../../common/identity/verify.ts";
import type { JwtRule, RequestAuthentication } from "../../../policies/schema/index.ts";
import type { EndUserKeys } from "../identity/end-users.ts";
import type { BackendRuntime } from "./backends.ts";
import { PolicyAttachments, type ObjectKey } from "./attached-policies.ts";

export interface TokenLocation {
  /** Lowercase header name, or a cookie's name. */
  readonly header?: string;
  /** Lowercase prefix ("bearer "), or "" for the whole value. */
  readonly prefix?: string;
  readonly cookie?: string;
}

export interface CompiledJwtRule {
  readonly issuer: string;
  readonly verifier: Verifier<string>;
  readonly locations: readonly TokenLocation[];
  readonly claimHeaders: readonly { readonly header: string; readonly claim: string }[];
  readonly forward: boolean;
  /** Where the control plane fetches the keys; undefined for inline keys. */
  readonly jwksUri: string | undefined;
}

export interface EndUserAuthentication {
  readonly rules: readonly CompiledJwtRule[];
  /** Every rule's outputClaimToHeaders header, lowercase: removed from every request (client-sent copies are spoofs). */
  readonly outputHeaders: readonly string[];
}

const DEFAULT_LOCATIONS: readonly TokenLocation[] = [{ header: "authorization", prefix: "bearer " }];
/** A key that no Backend or namespace has: a rule without backends (a redirect) gets only its route's policies. */
const NO_BACKEND: ObjectKey = { namespace: "", name: "" };

function compileJwtRule(rule: JwtRule, keys: EndUserKeys): CompiledJwtRule {
  const source = rule.jwksUri !== undefined ? { jwksUri: rule.jwksUri } : { jwks: rule.jwks as { keys: unknown[] } };
  const locations: TokenLocation[] = [
    ...(rule.fromHeaders ?? []).map((from) => ({ header: from.name.toLowerCase(), prefix: (from.prefix ?? "").toLowerCase() })),
    ...(rule.fromCookies ?? []).map((cookie) => ({ cookie })),
  ];
  return {
    issuer: rule.issuer,
    verifier: keys.verifierFor(rule.issuer, rule.audiences, source),
    locations: locations.length ? locations : DEFAULT_LOCATIONS,
    claimHeaders: (rule.outputClaimToHeaders ?? []).map(({ header, claim }) => ({ header: header.toLowerCase(), claim })),
    forward: rule.forwardOriginalToken,
    jwksUri: rule.jwksUri,
  };
}

const keyOfBackend = (backend: BackendRuntime): ObjectKey => {
  const slash = backend.name.indexOf("/");
  return slash < 0 ? { namespace: "default", name: backend.name } : { namespace: backend.name.slice(0, slash), name: backend.name.slice(slash + 1) };
};

/** Per table version: the function that gives a rule its end-user authentication (undefined: none applies). */
export function endUserAuthentications(policies: readonly RequestAuthentication[], keys: EndUserKeys) {
  if (!policies.length) return () => undefined;
  const attachments = new PolicyAttachments(policies);
  const compiled = new Map<RequestAuthentication, CompiledJwtRule[]>();
  const rulesOf = (policy: RequestAuthentication) => {
    let rules = compiled.get(policy);
    if (!rules) compiled.set(policy, (rules = policy.spec.jwtRules.map((rule) => compileJwtRule(rule, keys))));
    return rules;
  };
  return (targets: readonly { backend: BackendRuntime }[], route: ObjectKey): EndUserAuthentication | undefined => {
    const applying = new Set<RequestAuthentication>();
    if (!targets.length) for (const policy of attachments.scopes(NO_BACKEND, route).route) applying.add(policy);
    for (const { backend } of targets) for (const policy of attachments.applying(keyOfBackend(backend), route)) applying.add(policy);
    if (!applying.size) return undefined;
    const rules = [...applying].flatMap(rulesOf);
    return { rules, outputHeaders: [...new Set(rules.flatMap((rule) => rule.claimHeaders.map((one) => one.header)))] };
  };
}
