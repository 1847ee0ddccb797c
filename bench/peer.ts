/**
 * The peer in the benchmark: workers/peer, the Hono proxy Worker a Workers user writes without a mesh,
 * with the routes of bench/policies.ts. It learns the orders endpoints (round robin over all three)
 * and the decoy origin from text bindings, as the gateway learns them from its policies.
 */
import { join } from "node:path";
import { DECOY_ORIGIN } from "./policies.ts";
import type { Binding } from "./workerd.ts";

export const PEER_WRANGLER_TOML = join(import.meta.dirname, "..", "workers", "peer", "wrangler.toml");

export function peerBindings(upstreamPorts: readonly number[]): Binding[] {
  return [
    { name: "ORDERS_ORIGINS", text: upstreamPorts.map((port) => `http://127.0.0.1:${port}`).join(",") },
    { name: "DECOY_ORIGIN", text: DECOY_ORIGIN },
  ];
}
