/**
 * Compiles a checked PolicySet into the routing table the request path reads: immutable configuration
 * built once per config version, owning the isolate-local counters of its backends.
 */
import type { RegisteredEndpoint } from "../../../durable-objects/types.ts";
import type { PolicySet } from "../../../policies/policy-set.ts";
import type { HTTPRoute, HTTPRouteRule } from "../../../policies/schema/index.ts";
import { compileBackend, type BackendRuntime } from "./backends.ts";
import type { NamedSpec } from "./call-policy.ts";
import { compileMatch, type CompiledMatch } from "./match.ts";
import { compileRule, type BackendTarget, type CompiledRule, type RuleContext } from "./rule.ts";
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
}

/** A rule as written, compiled on first use: a table of 10 000 routes is ready before their rules are. */
interface RuleSource {
  readonly route: HTTPRoute;
  readonly rule: HTTPRouteRule;
  readonly ruleIndex: number;
  readonly context: RuleContext;
  compiled: CompiledRule | undefined;
}

const compiledRule = (source: RuleSource) => (source.compiled ??= compileRule(source.route, source.rule, source.ruleIndex, source.context));

class Entry implements RouteEntry {
  constructor(
    readonly match: CompiledMatch,
    private readonly source: RuleSource,
    readonly order: readonly [string, number, number],
  ) {}

  get rule(): CompiledRule {
    return compiledRule(this.source);
  }
}

const NO_MATCHES = [{}];

/**
 * `registry`: endpoints registered at run time, by backend name, joining the Backends' static ones.
 * What a table needs before its first request is built here (the path indexes, each match's
 * predicate); each rule and each backend's endpoints and counters on first use.
 */
export function compileTable(set: PolicySet, version: number, registry: Readonly<Record<string, readonly RegisteredEndpoint[]>> = {}): RoutingTable {
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
    const { namespace, name } = backend.metadata;
    const key = `${namespace}/${name}`;
    const named = policyFor.get(`Backend/${key}`);
    const runtime = compileBackend(backend, named?.spec, registry[namespace === "default" ? name : key]);
    backends.set(key, runtime);
    backendSpecs.set(runtime, named);
  }
  const backendOf = (ns: string, backendName: string) => backends.get(`${ns}/${backendName}`)!;
  const backendPolicy = (backend: BackendRuntime) => backendSpecs.get(backend);

  const entriesByHostname = new Map<string | undefined, RouteEntry[]>();
  const sources: RuleSource[] = [];
  for (const { value: route } of set.routes) {
    const { namespace, name } = route.metadata;
    const routeName = `${namespace}/${name}`;
    const context: RuleContext = { backend: backendOf, backendPolicy, routePolicy: policyFor.get(`HTTPRoute/${routeName}`) };
    const entries: RouteEntry[] = [];
    route.spec.rules.forEach((rule, ruleIndex) => {
      const source: RuleSource = { route, rule, ruleIndex, context, compiled: undefined };
      sources.push(source);
      const matches = rule.matches?.length ? rule.matches : NO_MATCHES;
      for (let matchIndex = 0; matchIndex < matches.length; matchIndex++) {
        entries.push(new Entry(compileMatch(matches[matchIndex]!), source, [routeName, ruleIndex, matchIndex]));
      }
    });
    for (const hostname of route.spec.hostnames?.length ? route.spec.hostnames : [undefined]) {
      const list = entriesByHostname.get(hostname);
      if (list) for (const entry of entries) list.push(entry);
      else entriesByHostname.set(hostname, entries.slice());
    }
  }

  let targets: BackendTarget[] | undefined;
  return {
    version,
    hosts: buildVirtualHosts(entriesByHostname),
    backends,
    get targets() {
      return (targets ??= sources.flatMap((source) => compiledRule(source).targets));
    },
  };
}
