/** Picks the endpoint for this attempt with the backend's balancer, and counts the attempt as in flight on it. */
import { MeshError } from "../errors.ts";
import type { Layer } from "./call.ts";

export const loadBalance: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  const endpoint = backend.balance(backend.eligible, call.request);
  if (!endpoint) throw new MeshError("no_healthy_upstream", `backend ${backend.name} has no healthy endpoint`);
  call.endpoint = endpoint;
  endpoint.inFlight++;
  try {
    return await inner(call);
  } finally {
    endpoint.inFlight--;
  }
};
