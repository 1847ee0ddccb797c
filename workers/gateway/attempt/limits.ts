/**
 * Local concurrency limit per backend (Envoy's max_requests circuit breaker, per isolate): past
 * `maxParallelRequests` attempts in flight, fail fast with 503 overflow instead of queueing.
 */
import { MeshError } from "../errors.ts";
import type { Layer } from "./call.ts";

export const concurrencyLimit: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  const counters = backend.state;
  if (counters.inFlight >= backend.maxParallelRequests) {
    throw new MeshError("overflow", `backend ${backend.name} has ${counters.inFlight} requests in flight, the limit`);
  }
  counters.inFlight++;
  try {
    return await inner(call);
  } finally {
    counters.inFlight--;
  }
};
