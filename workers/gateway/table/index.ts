/**
 * Compiles a checked PolicySet into the routing table the request path reads: immutable configuration
 * built once per config version, owning the isolate-local counters of its backends.
 */
import type { RegisteredEndpoint } from "../../../common/protocol.ts";
import { attachRoute } from "../../../policies/attachment.ts";
import type { PolicySet } from "../../../policies/policy-set.ts";
import type { IsolateState } from "../isolate-state.ts";
import { compileBackend, type BackendRuntime } from "./backends.ts";
import type { NamedSpec } from "./call-policy.ts";
import { compileMatch } from "./match.ts";
import { compileRule, type BackendTarget } from "./rule.ts";
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
  /** Every (rule, backendRef) pair, for views over the policies in force. */
  readonly targets: readonly BackendTarget[];
}

/**
 * `registry`: endpoints registered at run time, by backend name, joining the Backends' static ones.
 * `isolate`: the counters and health the table's backends use, which outlive it.
 */
export function compileTable(
  set: PolicySet,
  version: number,
  registry: Readonly<Record<string, readonly RegisteredEndpoint[]>>,
  isolate: IsolateState,
): RoutingTable {
  const policyFor = new Map<string, NamedSpec>();
  for (const { value: policy } of set.trafficPolicies) {
    for (const ref of policy.spec.targetRefs) {
      // One id per target: a policy on two routes gives each route its own rate-limit buckets.
      const id = `${policy.metadata.namespace}/${policy.metadata.name}/${ref.kind}/${ref.name}`;
      policyFor.set(`${ref.kind}/${policy.metadata.namespace}/${ref.name}`, { id, spec: policy.spec });
    }
  }

  const backends = new Map<string, BackendRuntime>();
  const backendSpecs = new Map<BackendRuntime, NamedSpec | undefined>();
  for (const { value: backend } of set.backends) {
    const key = `${backend.metadata.namespace}/${backend.metadata.name}`;
    const named = policyFor.get(`Backend/${key}`);
    const { namespace, name } = backend.metadata;
    const runtime = compileBackend(backend, named?.spec, registry[namespace === "default" ? name : `${namespace}/${name}`] ?? [], isolate);
    backends.set(key, runtime);
    backendSpecs.set(runtime, named);
  }

  const gateways = set.gateways.map((located) => located.value);
  const entriesByHostname = new Map<string | undefined, RouteEntry[]>();
  const targets: BackendTarget[] = [];
  for (const { value: route } of set.routes) {
    const { namespace, name } = route.metadata;
    const context = {
      backend: (ns: string, backendName: string) => backends.get(`${ns}/${backendName}`)!,
      backendPolicy: (backend: BackendRuntime) => backendSpecs.get(backend),
      routePolicy: policyFor.get(`HTTPRoute/${namespace}/${name}`),
    };
    const entries = route.spec.rules.flatMap((rule, ruleIndex) => {
      const compiled = compileRule(route, rule, ruleIndex, context);
      targets.push(...compiled.targets);
      const matches = rule.matches?.length ? rule.matches : [{}];
      return matches.map((match, matchIndex): RouteEntry => ({
        match: compileMatch(match),
        rule: compiled,
        order: [`${namespace}/${name}`, ruleIndex, matchIndex],
      }));
    });
    // The route's hostnames as its listeners narrow them (undefined: every hostname; none: not attached).
    for (const hostname of attachRoute(route, gateways).hostnames) {
      const list = entriesByHostname.get(hostname) ?? [];
      list.push(...entries);
      entriesByHostname.set(hostname, list);
    }
  }

  return { version, hosts: buildVirtualHosts(entriesByHostname), backends, targets };
}
