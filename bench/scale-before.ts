/**
 * What `npm run bench:scale` compares against: the algorithms the index and the new balancers replaced,
 * kept here as they were, so that before and after are measured in the same run. The route lookup is
 * the old linear scan (every candidate of the host in precedence order, the first that matches); round
 * robin is nginx's smooth weighted scan; weighted random is a linear scan of the weights.
 */
import type { PolicyValues } from "../policies/normalized.ts";
import type { HTTPRouteMatch } from "../policies/schema/index.ts";
import type { Balancer, EndpointRuntime } from "../workers/gateway/lb/index.ts";
import { weightedRandom } from "../workers/gateway/lb/random.ts";
import { compileMatch, comparePrecedence, type CompiledMatch, type RequestView } from "../workers/gateway/table/match.ts";

export interface LinearEntry {
  match: CompiledMatch;
  /** "namespace/route", rule index, match index. */
  order: [string, number, number];
}

const byPrecedence = (a: LinearEntry, b: LinearEntry) =>
  comparePrecedence(a.match.precedence, b.match.precedence) ||
  (a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : 0) ||
  a.order[1] - b.order[1] ||
  a.order[2] - b.order[2];

/** The candidates of one exact host, in the order the old lookup tried them (no wildcard routes here). */
export function linearCandidates(set: PolicyValues, host: string): LinearEntry[] {
  const own: LinearEntry[] = [];
  const anyHost: LinearEntry[] = [];
  for (const route of set.routes) {
    const hostnames = route.spec.hostnames ?? [];
    const list = hostnames.includes(host) ? own : hostnames.length === 0 ? anyHost : undefined;
    if (!list) continue;
    route.spec.rules.forEach((rule, r) =>
      (rule.matches?.length ? rule.matches : [{} as HTTPRouteMatch]).forEach((match, m) =>
        list.push({ match: compileMatch(match), order: [`${route.metadata.namespace}/${route.metadata.name}`, r, m] }),
      ),
    );
  }
  return [...own.sort(byPrecedence), ...anyHost.sort(byPrecedence)];
}

export const linearMatch = (candidates: readonly LinearEntry[], request: RequestView) => candidates.find((entry) => entry.match.test(request));

/** nginx's smooth weighted round robin: a scan of every endpoint per pick. */
export function nginxRoundRobin(): Balancer {
  const current = new Map<string, number>();
  return (endpoints) => {
    if (endpoints.length <= 1) return endpoints[0];
    let total = 0;
    let best: EndpointRuntime | undefined;
    let bestWeight = -Infinity;
    for (const endpoint of endpoints) {
      const weight = (current.get(endpoint.id) ?? 0) + endpoint.weight;
      current.set(endpoint.id, weight);
      total += endpoint.weight;
      if (weight > bestWeight) {
        bestWeight = weight;
        best = endpoint;
      }
    }
    current.set(best!.id, bestWeight - total);
    return best;
  };
}

export const linearRandom = (): Balancer => (endpoints) => weightedRandom(endpoints);
