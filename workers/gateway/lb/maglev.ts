/**
 * Consistent hashing with Maglev (Eisenbud et al., NSDI 2016), as Envoy implements it: a lookup table
 * of prime size M filled from each endpoint's own permutation. A key always maps to the same endpoint;
 * adding one endpoint moves about 1/N of the keys to it and well under 1 % between the others (Maglev
 * trades perfect stability for an even spread, see test/unit). Endpoint weights are not used.
 */
import type { Balancer, EndpointRuntime } from "./endpoint.ts";
import { fnv1a } from "./hash.ts";

export function buildMaglevTable(ids: readonly string[], size: number): Int32Array<ArrayBuffer> {
  const table = new Int32Array(size).fill(-1);
  if (ids.length === 0) return table;
  const offsets = ids.map((id) => fnv1a(id, 0x9e3779b9) % size);
  const skips = ids.map((id) => (fnv1a(id, 0x7f4a7c15) % (size - 1)) + 1);
  const next = new Array<number>(ids.length).fill(0);
  let filled = 0;
  while (true) {
    for (let i = 0; i < ids.length; i++) {
      let slot = (offsets[i]! + next[i]! * skips[i]!) % size;
      while (table[slot]! >= 0) {
        next[i]!++;
        slot = (offsets[i]! + next[i]! * skips[i]!) % size;
      }
      table[slot] = i;
      next[i]!++;
      if (++filled === size) return table;
    }
  }
}

export type HashKey = (request: Request) => string | undefined;

/**
 * A key that is missing (no such header or cookie) falls back to a random endpoint, as in Envoy.
 * The table is rebuilt only when the set of eligible endpoints changes.
 */
export function maglev(hashKey: HashKey, tableSize: number, random = Math.random): Balancer {
  let builtFor: readonly EndpointRuntime[] | undefined;
  let builtIds = "";
  let table: Int32Array<ArrayBuffer> = new Int32Array(0);
  return (endpoints, request) => {
    if (endpoints.length <= 1) return endpoints[0];
    const key = hashKey(request);
    if (key === undefined) return endpoints[Math.floor(random() * endpoints.length)];
    if (builtFor !== endpoints) {
      // A new list with the same endpoints (a recompile, a health change elsewhere) keeps the table.
      const ids = endpoints.map((endpoint) => endpoint.id);
      const joined = ids.join("\n");
      if (joined !== builtIds) table = buildMaglevTable(ids, tableSize);
      builtFor = endpoints;
      builtIds = joined;
    }
    return endpoints[table[fnv1a(key) % tableSize]!];
  };
}
