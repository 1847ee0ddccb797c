/**
 * Picks the endpoint for this attempt with the backend's balancer, and counts the attempt as in
 * flight on it. A retry goes to an endpoint this request has not tried yet when there is one (Envoy's
 * previous-hosts retry predicate), except under consistent hashing, where the key owns the endpoint.
 */
import { MeshError } from "../errors.ts";
import type { Balancer, EndpointRuntime } from "../lb/index.ts";
import { weightedRandom } from "../lb/random.ts";
import type { Layer } from "./call.ts";

export const loadBalance: Layer = (inner) => async (call) => {
  const backend = call.target.backend;
  const endpoint = call.tried.length && backend.retries !== "any"
    ? retryPick(backend.balance, backend.eligible, call.tried, call.request, backend.retries === "by-weight")
    : backend.balance(backend.eligible, call.request);
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
 * A retry's endpoint among those not tried yet (all of them when every one was). `byWeight`, for a
 * balancer that keeps state (round robin): a weighted random draw, which keeps the weights among the
 * untried and leaves the schedule to first attempts. Giving the schedule the untried list would start
 * a schedule of its own for it on every retry, all of them to one endpoint; taking slots from the
 * shared one would leave the failing endpoint's slots to everyone else's first attempts. A stateless
 * balancer (least request, random) just gets the untried list.
 */
export function retryPick(balance: Balancer, candidates: readonly EndpointRuntime[], tried: readonly EndpointRuntime[], request: Request, byWeight: boolean, draw = Math.random): EndpointRuntime | undefined {
  const untried = candidates.filter((endpoint) => !tried.includes(endpoint));
  if (!untried.length) return balance(candidates, request);
  return byWeight ? weightedRandom(untried, draw) : balance(untried, request);
}
