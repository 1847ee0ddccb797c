/**
 * Which AuthorizationPolicies apply to each (route, backend) pair, resolved once per configuration
 * version through PolicyAttachments (mesh, namespace, Backend and HTTPRoute scopes), each policy
 * compiled once and each distinct combination into one Authorizer that the pair's targets share.
 */
import type { AuthorizationPolicy } from "../../../policies/schema/index.ts";
import { compileAuthorizer, compilePolicy, type Authorizer, type CompiledPolicy } from "../authz/evaluate.ts";
import { PolicyAttachments, type ObjectKey } from "./attached-policies.ts";

export type AuthorizerFor = (backend: ObjectKey, route: ObjectKey) => Authorizer | undefined;

const NONE: AuthorizerFor = () => undefined;

export function authorizers(policies: readonly AuthorizationPolicy[]): AuthorizerFor {
  if (!policies.length) return NONE;
  const attachments = new PolicyAttachments(policies);
  const compiled = new Map<AuthorizationPolicy, CompiledPolicy>();
  const combinations = new Map<string, Authorizer | undefined>();
  return (backend, route) => {
    const applying = attachments.applying(backend, route);
    if (!applying.length) return undefined;
    const key = applying.map((policy) => `${policy.metadata.namespace}/${policy.metadata.name}`).join(" ");
    if (combinations.has(key)) return combinations.get(key);
    const authorizer = compileAuthorizer(applying.map((policy) => {
      let one = compiled.get(policy);
      if (!one) compiled.set(policy, (one = compilePolicy(policy)));
      return one;
    }));
    combinations.set(key, authorizer);
    return authorizer;
  };
}
