/**
 * The gateway against the peer (the Hono proxy a user writes instead) and the pass-through (the floor
 * of any Worker proxy), and the project's targets for them (issue 6): the gateway costs at most 0.75x
 * the peer's CPU per request, serves at least 0.65x the pass-through's throughput, and adds at most
 * 0.1 ms to the pass-through's p50 at one connection; (issue 7) identity on (gateway_secure)
 * costs at most 10 us of CPU per request over the gateway; (issue 8) observability on
 * (gateway_observed: metrics, 10 % trace sampling, the access log) at most 15 us.
 */
import type { TargetName } from "./check.ts";
import { MAX_OBSERVED_CPU_DELTA_US } from "./observed.ts";
import { MAX_SECURE_CPU_DELTA_US } from "./secure.ts";

export const MAX_CPU_VS_PEER = 0.75;
export const MIN_THROUGHPUT_VS_PASSTHROUGH = 0.65;
export const MAX_P50_C1_DELTA_MS = 0.1;

interface Figures {
  rps: number;
  p50_c1_ms: number;
}

export interface Check {
  value: number | null;
  /** The bound: `value` must be at most `max` or at least `min`. */
  max?: number;
  min?: number;
  /** false when the value could not be measured (no CPU figure without /proc), or says nothing (`inconclusive`). */
  met: boolean;
  /**
   * A variant that does strictly more work than its baseline measured cheaper by more than the target
   * itself: this run's noise exceeds the target, so it neither meets nor misses it (use bench/ab.ts).
   */
  inconclusive?: true;
}

/** The check of a cost over `gateway` (µs per request): at most `max`, and not below -max (noise). */
function costCheck(value: number | null, max: number): Check {
  if (value !== null && value < -max) return { value, max, met: false, inconclusive: true };
  return { value, max, met: value !== null && value <= max };
}

export interface Comparison {
  /** gateway / peer_hono: CPU per request (workerd, 50 connections) and req/s. */
  gateway_vs_peer_hono: { cpu_per_request_ratio: number | null; throughput_ratio: number };
  /** gateway / passthrough, and gateway's p50 at one connection minus the pass-through's. */
  gateway_vs_passthrough: { cpu_per_request_ratio: number | null; throughput_ratio: number; p50_c1_delta_ms: number };
  /** gateway_secure - gateway: CPU per request (us), the cost of identity. */
  gateway_secure_vs_gateway: { cpu_per_request_delta_us: number | null; throughput_ratio: number };
  /** gateway_observed - gateway: CPU per request (us), the cost of metrics, sampled traces and their export. */
  gateway_observed_vs_gateway: { cpu_per_request_delta_us: number | null; throughput_ratio: number };
  targets: { cpu_vs_peer_hono: Check; throughput_vs_passthrough: Check; p50_c1_delta_ms: Check; secure_cpu_delta_us: Check; observed_cpu_delta_us: Check };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const ratioOf = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : round(a / b, 3));

export function compare(
  rows: Record<"passthrough" | "peer_hono" | "gateway" | "gateway_secure" | "gateway_observed", Figures>,
  cpu: Partial<Record<TargetName, number>>,
): Comparison {
  const { passthrough, peer_hono: peer, gateway, gateway_secure: secure, gateway_observed: observed } = rows;
  const overGateway = (value: number | undefined) => (value === undefined || cpu.gateway === undefined ? null : value - cpu.gateway);
  const secureDelta = overGateway(cpu.gateway_secure);
  const observedDelta = overGateway(cpu.gateway_observed);
  const cpuVsPeer = ratioOf(cpu.gateway, cpu.peer_hono);
  const throughput = round(gateway.rps / passthrough.rps, 3);
  const delta = round(gateway.p50_c1_ms - passthrough.p50_c1_ms, 3);
  return {
    gateway_vs_peer_hono: { cpu_per_request_ratio: cpuVsPeer, throughput_ratio: round(gateway.rps / peer.rps, 3) },
    gateway_vs_passthrough: { cpu_per_request_ratio: ratioOf(cpu.gateway, cpu.passthrough), throughput_ratio: throughput, p50_c1_delta_ms: delta },
    gateway_secure_vs_gateway: { cpu_per_request_delta_us: secureDelta, throughput_ratio: round(secure.rps / gateway.rps, 3) },
    gateway_observed_vs_gateway: { cpu_per_request_delta_us: observedDelta, throughput_ratio: round(observed.rps / gateway.rps, 3) },
    targets: {
      cpu_vs_peer_hono: { value: cpuVsPeer, max: MAX_CPU_VS_PEER, met: cpuVsPeer !== null && cpuVsPeer <= MAX_CPU_VS_PEER },
      throughput_vs_passthrough: { value: throughput, min: MIN_THROUGHPUT_VS_PASSTHROUGH, met: throughput >= MIN_THROUGHPUT_VS_PASSTHROUGH },
      p50_c1_delta_ms: { value: delta, max: MAX_P50_C1_DELTA_MS, met: delta <= MAX_P50_C1_DELTA_MS },
      secure_cpu_delta_us: costCheck(secureDelta, MAX_SECURE_CPU_DELTA_US),
      observed_cpu_delta_us: costCheck(observedDelta, MAX_OBSERVED_CPU_DELTA_US),
    },
  };
}
