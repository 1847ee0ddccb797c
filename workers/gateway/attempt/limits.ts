/**
 * Local concurrency limit per backend (Envoy's max_requests circuit breaker, per isolate): past
 * `maxParallelRequests` attempts in flight, fail fast with 503 overflow instead of queueing. The
 * slots expire (slots.ts), so work the platform cancelled cannot hold the limit for good.
 */
import { MeshError } from "../errors.ts";
import type { Layer } from "./call.ts";
import { endOf } from "./slots.ts";

export const concurrencyLimit: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  const slots = backend.state.inFlight;
  if (slots.size >= backend.maxParallelRequests && slots.sweep(Date.now()) >= backend.maxParallelRequests) {
    throw new MeshError("overflow", `backend ${backend.name} has ${slots.size} requests in flight, the limit`);
  }
  // The attempt is bounded by its per-try timeout too (attemptTimeout runs outside this layer).
  const now = Date.now();
  const slot = slots.take(endOf(Math.min(call.deadlineAt, now + (call.target.policy.perTryTimeoutMs ?? Infinity)), now));
  try {
    return await inner(call);
  } finally {
    slots.give(slot);
  }
};
