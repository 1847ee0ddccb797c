/**
 * Picks the endpoint for this attempt with the backend's balancer, and counts the attempt as in
 * flight on it. A retry goes to an endpoint this request has not tried yet when there is one (Envoy's
 * previous-hosts retry predicate), except under consistent hashing, where the key owns the endpoint.
 */
import { MeshError } from "../errors.ts";
import type { Layer } from "./call.ts";

export const loadBalance: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  let candidates = backend.eligible;
  if (call.tried.length && backend.retriesAvoidTried) {
    const untried = candidates.filter((endpoint) => !call.tried.includes(endpoint));
    if (untried.length) candidates = untried;
  }
  const endpoint = backend.balance(candidates, call.request);
  if (!endpoint) throw new MeshError("no_healthy_upstream", `backend ${backend.name} has no healthy endpoint`);
  call.endpoint = endpoint;
  call.tried.push(endpoint);
  endpoint.inFlight++;
  try {
    return await inner(call);
  } finally {
    endpoint.inFlight--;
  }
};
