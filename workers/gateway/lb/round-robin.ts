/**
 * Weighted round robin, the "smooth" variant nginx uses: with weights 5:1:1 it sends a,a,b,a,c,a,a
 * rather than a burst of five to one endpoint. State lives per balancer (per backend, per isolate).
 */
import type { Balancer, EndpointRuntime } from "./endpoint.ts";

export function roundRobin(): Balancer {
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
