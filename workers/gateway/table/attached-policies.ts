/**
 * Which security policies (PeerAuthentication, RequestAuthentication, AuthorizationPolicy) apply to
 * a call, as Istio scopes them: a policy with targetRefs applies to the Backends and HTTPRoutes it
 * names (in its own namespace); one without applies to every Backend of its namespace, and in the
 * root namespace (MESH_ROOT_NAMESPACE) to the whole mesh. Indexed once per configuration version;
 * a lookup is four map reads, meant to be made when a rule is compiled, not per request.
 */
import { MESH_ROOT_NAMESPACE, type PolicyTargetRef } from "../../../policies/schema/index.ts";

export interface TargetedPolicy {
  readonly metadata: { readonly namespace: string; readonly name: string };
  readonly spec: { readonly targetRefs?: readonly PolicyTargetRef[] };
}

export interface ObjectKey {
  readonly namespace: string;
  readonly name: string;
}

/** The policies of each scope that apply to one call, widest scope first. */
export interface ScopedPolicies<P> {
  readonly mesh: readonly P[];
  readonly namespace: readonly P[];
  readonly backend: readonly P[];
  readonly route: readonly P[];
}

const NONE: readonly never[] = [];

export class PolicyAttachments<P extends TargetedPolicy> {
  private readonly byKey = new Map<string, P[]>();
  readonly size: number;

  constructor(policies: readonly P[]) {
    this.size = policies.length;
    for (const policy of policies) {
      const { namespace } = policy.metadata;
      const refs = policy.spec.targetRefs;
      if (!refs?.length) this.add(namespace === MESH_ROOT_NAMESPACE ? "mesh" : `ns/${namespace}`, policy);
      else for (const ref of refs) this.add(`${ref.kind}/${namespace}/${ref.name}`, policy);
    }
  }

  private add(key: string, policy: P): void {
    const list = this.byKey.get(key);
    if (!list) this.byKey.set(key, [policy]);
    else if (!list.includes(policy)) list.push(policy);
  }

  /** The policies for a call to `backend` routed by `route` (undefined: no route, such as a mirror's target). */
  scopes(backend: ObjectKey, route?: ObjectKey): ScopedPolicies<P> {
    if (!this.size) return { mesh: NONE, namespace: NONE, backend: NONE, route: NONE };
    const get = (key: string) => this.byKey.get(key) ?? NONE;
    return {
      mesh: get("mesh"),
      namespace: get(`ns/${backend.namespace}`),
      backend: get(`Backend/${backend.namespace}/${backend.name}`),
      route: route ? get(`HTTPRoute/${route.namespace}/${route.name}`) : NONE,
    };
  }

  /** Every policy that applies to the call, widest scope first, each once. */
  applying(backend: ObjectKey, route?: ObjectKey): P[] {
    const { mesh, namespace, backend: own, route: routed } = this.scopes(backend, route);
    const all = [...mesh, ...namespace, ...own];
    for (const policy of routed) if (!all.includes(policy)) all.push(policy);
    return all;
  }
}
