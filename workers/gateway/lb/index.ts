/** Builds the balancer a BackendTrafficPolicy names; RoundRobin when it names none (Envoy's default). */
import type { LoadBalancer } from "../../../policies/schema/index.ts";
import type { Balancer } from "./endpoint.ts";
import { leastRequest } from "./least-request.ts";
import { maglev, type HashKey } from "./maglev.ts";
import { random } from "./random.ts";
import { roundRobin } from "./round-robin.ts";

export type { Balancer, EndpointRuntime } from "./endpoint.ts";

export function createBalancer(config: LoadBalancer | undefined): Balancer {
  switch (config?.type) {
    case undefined:
    case "RoundRobin":
      return roundRobin();
    case "Random":
      return random();
    case "LeastRequest":
      return leastRequest();
    case "ConsistentHash":
      return maglev(hashKeyOf(config.consistentHash), config.tableSize);
  }
}

function hashKeyOf(hash: Extract<LoadBalancer, { type: "ConsistentHash" }>["consistentHash"]): HashKey {
  switch (hash.type) {
    case "Header": {
      const name = hash.header.name.toLowerCase();
      return (request) => request.headers.get(name) ?? undefined;
    }
    case "Cookie": {
      const name = hash.cookie.name;
      return (request) => readCookie(request.headers.get("cookie"), name);
    }
    case "SourceIP":
      return (request) => request.headers.get("cf-connecting-ip") ?? undefined;
  }
}

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const separator = pair.indexOf("=");
    if (separator > 0 && pair.slice(0, separator).trim() === name) return pair.slice(separator + 1).trim();
  }
  return undefined;
}
