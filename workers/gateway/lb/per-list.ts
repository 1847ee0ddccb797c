/**
 * A balancer's structure over one endpoint list (a schedule, prefix sums), built once per list and
 * found again by the list's identity: a backend hands its balancer the same `eligible` array until
 * the endpoints or their health change, so a pick does not pay the O(n) build. Other lists (a retry's
 * untried endpoints) get their own, kept only as long as the list lives.
 */
import type { EndpointRuntime } from "./endpoint.ts";

type List = readonly EndpointRuntime[];

export function perList<T>(build: (endpoints: List) => T): (endpoints: List) => T {
  let lastList: List | undefined;
  let lastValue: T | undefined;
  const others = new WeakMap<List, T>();
  return (endpoints) => {
    if (endpoints === lastList) return lastValue!;
    let value = others.get(endpoints);
    if (value === undefined) others.set(endpoints, (value = build(endpoints)));
    lastList = endpoints;
    lastValue = value;
    return value;
  };
}

/** Whether every endpoint has the same weight: then plain index arithmetic balances them. */
export function equalWeights(endpoints: List): boolean {
  for (let i = 1; i < endpoints.length; i++) if (endpoints[i]!.weight !== endpoints[0]!.weight) return false;
  return true;
}
