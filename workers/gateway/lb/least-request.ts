/**
 * Least request by the power of two choices: two endpoints at random, the one with fewer requests in
 * flight (per unit of weight) wins. Near-optimal spread without scanning every endpoint, and without
 * the herd effect of always picking the global minimum.
 */
import type { Balancer } from "./endpoint.ts";

export const leastRequest = (random = Math.random): Balancer => (endpoints) => {
  const count = endpoints.length;
  if (count <= 1) return endpoints[0];
  const first = Math.floor(random() * count);
  const second = (first + 1 + Math.floor(random() * (count - 1))) % count;
  const a = endpoints[first]!;
  const b = endpoints[second]!;
  return b.inFlight / b.weight < a.inFlight / a.weight ? b : a;
};
