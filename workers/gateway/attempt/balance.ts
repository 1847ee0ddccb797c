/**
 * Picks the endpoint for this attempt with the backend's balancer, and counts the attempt as in
 * flight on it. A retry goes to an endpoint this request has not tried yet when there is one (Envoy's
 * previous-hosts retry predicate), except under consistent hashing, where the key owns the endpoint.
 */
import { MeshError } from "../errors.ts";
import type { Balancer, EndpointRuntime } from "../lb/index.ts";
import type { Layer } from "./call.ts";

const NONE: readonly EndpointRuntime[] = [];

export const loadBalance: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  const endpoint = pickEndpoint(backend.balance, backend.eligible, backend.retriesAvoidTried ? call.tried : NONE, call.request);
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

/**
 * The balancer's pick among `candidates`, skipping those already `tried`. It asks the balancer over
 * the whole list first, as many times as there are candidates: a list without the tried ones would
 * get a schedule of its own, started afresh on every retry, which sends every retry to the same
 * endpoint whatever the weights (a:1, b:1, c:3 with a tried: all to b). Only a balancer that keeps
 * answering tried ones (least request) is then given the untried list.
 */
export function pickEndpoint(balance: Balancer, candidates: readonly EndpointRuntime[], tried: readonly EndpointRuntime[], request: Request): EndpointRuntime | undefined {
  if (!tried.length) return balance(candidates, request);
  for (let i = 0; i < candidates.length; i++) {
    const endpoint = balance(candidates, request);
    if (!endpoint || !tried.includes(endpoint)) return endpoint;
  }
  const untried = candidates.filter((endpoint) => !tried.includes(endpoint));
  return balance(untried.length ? untried : candidates, request);
}
