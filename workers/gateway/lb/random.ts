/**
 * Weighted random choice: stateless, so every isolate spreads load the same way. O(1) per pick with
 * equal weights, O(log n) otherwise (a binary search in the prefix sums of the weights, built once
 * per endpoint list, per-list.ts).
 */
import type { Balancer, EndpointRuntime } from "./endpoint.ts";
import { equalWeights, perList } from "./per-list.ts";

/** A linear scan, for the few items of a traffic split (a rule's backendRefs). */
export function weightedRandom<T extends { weight: number }>(items: readonly T[], random = Math.random): T | undefined {
  if (items.length <= 1) return items[0];
  let total = 0;
  for (const item of items) total += item.weight;
  let point = random() * total;
  for (const item of items) {
    point -= item.weight;
    if (point < 0) return item;
  }
  return items[items.length - 1];
}

/** Running totals of the weights: endpoint i owns [sums[i-1], sums[i]). */
export function prefixSums(endpoints: readonly EndpointRuntime[]): Float64Array {
  const sums = new Float64Array(endpoints.length);
  let total = 0;
  for (let i = 0; i < endpoints.length; i++) sums[i] = total += endpoints[i]!.weight;
  return sums;
}

/** The first index whose running total exceeds `point`. */
export function searchSums(sums: Float64Array, point: number): number {
  let low = 0;
  let high = sums.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sums[middle]! > point) high = middle;
    else low = middle + 1;
  }
  return low;
}

export const random = (draw = Math.random): Balancer => {
  const sumsOf = perList((endpoints) => (equalWeights(endpoints) ? undefined : prefixSums(endpoints)));
  return (endpoints) => {
    const count = endpoints.length;
    if (count <= 1) return endpoints[0];
    const sums = sumsOf(endpoints);
    if (!sums) return endpoints[Math.floor(draw() * count)];
    return endpoints[searchSums(sums, draw() * sums[count - 1]!)];
  };
};
