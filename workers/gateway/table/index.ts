/**
 * Compiles checked policies (by kind, policies/normalized.ts) into the routing table the request path reads: immutable configuration
 * built once per config version, owning the isolate-local counters of its backends.
 */
import type { RegisteredEndpoint } from "../../../common/protocol.ts";
import { attachRoute } from "../../../policies/attachment.ts";
import type { PolicyValues } from "../../../policies/normalized.ts";
import { qualifiedName } from "../../../policies/qualified-name.ts";
import { startRegexAccount } from "../../../policies/regex.ts";
import type { AdminRoleBinding, Backend } from "../../../policies/schema/index.ts";
import type { IsolateState } from "../isolate-state.ts";
import { authorizers } from "./authorization.ts";
import { compileBackend, type BackendRuntime } from "./backends.ts";
import type { NamedSpec } from "./call-policy.ts";
import { peerAuthenticationResolver } from "./peer-authentication.ts";
import { endUserAuthentications } from "./end-user-authn.ts";
import { RouteSet } from "./route-entries.ts";
import type { BackendTarget, RuleContext } from "./rule.ts";
import { buildVirtualHosts, type RouteEntry, type VirtualHosts } from "./virtual-hosts.ts";

export type { BackendRuntime } from "./backends.ts";
export type { CallPolicy, FaultPolicy, RetryPolicy } from "./call-policy.ts";
export type { RequestView } from "./match.ts";
export type { BackendTarget, CompiledRule } from "./rule.ts";
export { hostnameOf } from "./virtual-hosts.ts";
export type { RouteEntry } from "./virtual-hosts.ts";

export interface RoutingTable {
  readonly version: number;
  readonly hosts: VirtualHosts;
  readonly backends: ReadonlyMap<string, BackendRuntime>;
  /** Every (rule, backendRef) pair, for views over the policies in force (compiles every rule on first read). */
  readonly targets: readonly BackendTarget[];
  /** The version's AdminRoleBindings, as validated (the admin API compiles them, once per table). */
  readonly adminRoleBindings: readonly AdminRoleBinding[];
}

/**
 * `registry`: endpoints registered at run time, by backend name, joining the Backends' static ones.
 * `isolate`: the counters and health the table's backends use, which outlive it.
 * Only what every request needs is built here: routes grouped by hostname, backends by name, policies
 * by target. A host's path index (and its routes' matches) is built on the host's first request, a
 * rule when it first matches, a backend's endpoints and counters when first called (route-entries.ts,
 * virtual-hosts.ts, backends.ts). The loops run once per route and backend of the mesh, so they
 * allocate little and look up policies only where some exist.
 */
export function compileTable(
  set: PolicyValues,
  version: number,
  registry: Readonly<Record<string, readonly RegisteredEndpoint[]>>,
  isolate: IsolateState,
): RoutingTable {
  startRegexAccount();
  const policyFor = new Map<string, NamedSpec>();
  for (const policy of set.trafficPolicies) {
    for (const ref of policy.spec.targetRefs) {
      // One id per target: a policy on two routes gives each route its own rate-limit buckets.
      const id = `${policy.metadata.namespace}/${policy.metadata.name}/${ref.kind}/${ref.name}`;
      policyFor.set(`${ref.kind}/${policy.metadata.namespace}/${ref.name}`, { id, spec: policy.spec });
    }
  }
  const policyOf = (kind: string, namespace: string, name: string) => (policyFor.size ? policyFor.get(`${kind}/${namespace}/${name}`) : undefined);

  // Backends by namespace, then name (no key to build per backend: the names come from the documents
  // as they are), each compiled when a rule first names it or the admin API asks.
  const byNamespace = new Map<string, Map<string, Backend>>();
  for (const backend of set.backends) {
    const { namespace, name } = backend.metadata;
    let names = byNamespace.get(namespace);
    if (!names) byNamespace.set(namespace, (names = new Map()));
    names.set(name, backend);
  }
  const registered = Object.keys(registry).length ? registry : undefined;
  const peerAuthenticationOf = peerAuthenticationResolver(set.peerAuthentications);
  const runtimes = new Map<Backend, BackendRuntime>();
  const backendSpecs = new Map<BackendRuntime, NamedSpec>();
  const runtimeOf = (backend: Backend) => {
    let runtime = runtimes.get(backend);
    if (runtime) return runtime;
    const { namespace, name } = backend.metadata;
    const named = policyOf("Backend", namespace, name);
    runtime = compileBackend(backend, named?.spec, registered?.[qualifiedName(namespace, name)] ?? [], isolate, peerAuthenticationOf(backend));
    runtimes.set(backend, runtime);
    if (named) backendSpecs.set(runtime, named);
    return runtime;
  };
  const backendOf = (namespace: string, name: string) => runtimeOf(byNamespace.get(namespace)!.get(name)!);
  const backendPolicy = (backend: BackendRuntime) => backendSpecs.get(backend);
  const endUsers = endUserAuthentications(set.requestAuthentications, isolate.endUsers);
  const noRoutePolicy: RuleContext = { backend: backendOf, backendPolicy, routePolicy: undefined, authorization: authorizers(set.authorizationPolicies), endUsers };

  // Routes by position in set.routes: small integers, cheaper to keep and look up than the objects.
  const routesByHostname = new Map<string | undefined, number[]>();
  for (let i = 0; i < set.routes.length; i++) {
    // The route's hostnames as its listeners narrow them (undefined: every hostname; none: not attached).
    for (const hostname of attachRoute(set.routes[i]!, set.gateways).hostnames) {
      const list = routesByHostname.get(hostname);
      if (list) list.push(i);
      else routesByHostname.set(hostname, [i]);
    }
  }
  const routes = new RouteSet(set.routes, (route) => {
    const routePolicy = policyOf("HTTPRoute", route.metadata.namespace, route.metadata.name);
    return routePolicy ? { ...noRoutePolicy, routePolicy } : noRoutePolicy;
  });

  let targets: BackendTarget[] | undefined;
  let backends: Map<string, BackendRuntime> | undefined;
  return {
    version,
    hosts: buildVirtualHosts(routesByHostname, (index, to) => routes.addEntries(index, to)),
    get backends() {
      if (backends) return backends;
      const keyed = new Map<string, BackendRuntime>();
      for (const backend of set.backends) keyed.set(`${backend.metadata.namespace}/${backend.metadata.name}`, runtimeOf(backend));
      return (backends = keyed);
    },
    get targets() {
      return (targets ??= routes.allRules().flatMap((rule) => rule.targets));
    },
    adminRoleBindings: set.adminRoleBindings,
  };
}
