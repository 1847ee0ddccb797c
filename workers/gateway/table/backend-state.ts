/**
 * What an isolate keeps per backend across routing-table versions: requests and retries in flight,
 * the retry budget, the balancer's state and each endpoint's in-flight count. A new configuration or
 * registry version compiles a new table, but must not reset these, or every reload would reopen the
 * retry budget and let the concurrency limit be exceeded while older requests still run.
 */
import type { LoadBalancer, RetryBudget as RetryBudgetConfig } from "../../../policies/schema/index.ts";
import { RetryBudget } from "../attempt/retry-budget.ts";
import { Slots } from "../attempt/slots.ts";
import { createBalancer, type Balancer, type EndpointRuntime } from "../lb/index.ts";

export interface BackendState {
  /** Attempts in flight (the circuit breaker's slots, which expire: slots.ts). */
  readonly inFlight: Slots;
  /** Retries in flight, as slots that expire too. */
  readonly retriesInFlight: Slots;
  retryBudget: RetryBudget;
  balance: Balancer;
  readonly endpoints: Map<string, EndpointRuntime>;
  /** The settings the budget and balancer were made from, to tell when they change. */
  budgetKey: string;
  balancerKey: string;
}

/** Every backend's state in one isolate, by backend name (part of the IsolateState). */
export class BackendStates {
  private readonly states = new Map<string, BackendState>();

  of(backend: string, budget: RetryBudgetConfig, loadBalancer: LoadBalancer | undefined): BackendState {
    const budgetKey = JSON.stringify(budget);
    const balancerKey = JSON.stringify(loadBalancer ?? null);
    let state = this.states.get(backend);
    if (!state) {
      state = { inFlight: new Slots(), retriesInFlight: new Slots(), retryBudget: new RetryBudget(budget), balance: createBalancer(loadBalancer), endpoints: new Map(), budgetKey, balancerKey };
      this.states.set(backend, state);
    }
    if (state.budgetKey !== budgetKey) Object.assign(state, { retryBudget: new RetryBudget(budget), budgetKey });
    if (state.balancerKey !== balancerKey) Object.assign(state, { balance: createBalancer(loadBalancer), balancerKey });
    return state;
  }
}

/** The endpoint's runtime object, the same one across versions (its weight may change). */
export function endpointOf(state: BackendState, id: string, origin: string | undefined, weight: number): EndpointRuntime {
  let endpoint = state.endpoints.get(id);
  if (!endpoint) state.endpoints.set(id, (endpoint = { id, origin, weight, inFlight: 0 }));
  endpoint.weight = weight;
  return endpoint;
}
