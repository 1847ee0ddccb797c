/**
 * The outcome record as metrics (common/metrics/families.ts): route level once per request, attempt
 * level once per try. Labels after Istio's: an anonymous caller is source_workload "unknown".
 *
 * Every request of the same (caller, route, status, ...) updates the same series, so the series are
 * looked up once per such combination and kept (`Handles`), keyed by one string, instead of building
 * and joining a label array per family per request; the kept handles are dropped whenever the store
 * drops series (a flush clears it, a fold merges some), so counts always land in the store.
 */
import { observeInto, type MetricStore, type Series } from "../../../common/metrics/store.ts";
import { upstreamTimeMs, type Outcome } from "../outcome.ts";

const UNKNOWN = "unknown";
const SEPARATOR = "\u0000";

/** "spiffe://td/ns/shop/sa/cart" → "cart". */
function workloadOf(id: string): string {
  const at = id.lastIndexOf("/sa/");
  return at < 0 ? UNKNOWN : id.slice(at + 4);
}

interface RouteSeries {
  requests: Series;
  requestDuration: Series;
  meshDuration: Series;
  requestBytes: Series | undefined;
  responseBytes: Series | undefined;
}

interface AttemptSeries {
  attempts: Series;
  attemptDuration: Series;
}

/** A store's kept handles, valid for one generation of it. Bounded: one per series the store holds. */
interface Handles {
  generation: number;
  routes: Map<string, RouteSeries>;
  attempts: Map<string, AttemptSeries>;
}

const handlesByStore = new WeakMap<MetricStore, Handles>();

function handlesOf(store: MetricStore): Handles {
  let handles = handlesByStore.get(store);
  if (!handles || handles.generation !== store.generation) {
    handles = { generation: store.generation, routes: new Map(), attempts: new Map() };
    handlesByStore.set(store, handles);
  }
  return handles;
}

/** Takes handles with `make`; if making them dropped series (a fold), the ones taken before may be stale: again. */
function stable<T>(store: MetricStore, make: () => T): T {
  for (;;) {
    const generation = store.generation;
    const made = make();
    if (store.generation === generation) return made;
  }
}

export function recordMetrics(store: MetricStore, outcome: Outcome): void {
  const principal = outcome.source && "id" in outcome.source ? outcome.source.id : UNKNOWN;
  const workload = principal === UNKNOWN ? UNKNOWN : workloadOf(principal);
  const destination = outcome.backend ?? UNKNOWN;
  const route = outcome.route ?? "";
  const reason = outcome.reason ?? "";
  const { requestBytes, responseBytes } = outcome;
  // The byte counters' series exist only once something was counted (inc by 0 makes none): part of the key.
  const key = `${principal}${SEPARATOR}${destination}${SEPARATOR}${route}${SEPARATOR}${outcome.status}${SEPARATOR}${reason}${SEPARATOR}${requestBytes ? 1 : 0}${responseBytes ? 1 : 0}`;
  let handles = handlesOf(store);
  let routeSeries = handles.routes.get(key);
  if (!routeSeries) {
    const code = String(outcome.status);
    routeSeries = stable(store, () => ({
      requests: store.handle("requests", [workload, principal, destination, route, code, reason]),
      requestDuration: store.handle("requestDuration", [workload, principal, destination, route, code]),
      meshDuration: store.handle("meshDuration", [destination, route]),
      requestBytes: requestBytes ? store.handle("requestBytes", [workload, destination, route]) : undefined,
      responseBytes: responseBytes ? store.handle("responseBytes", [workload, destination, route]) : undefined,
    }));
    handles = handlesOf(store);
    handles.routes.set(key, routeSeries);
  }
  routeSeries.requests.count++;
  observeInto("requestDuration", routeSeries.requestDuration, outcome.latencyMs / 1000);
  for (const attempt of outcome.tries) {
    const endpoint = attempt.endpoint ?? "";
    const attemptKey = `${workload}${SEPARATOR}${destination}${SEPARATOR}${endpoint}${SEPARATOR}${attempt.status}${SEPARATOR}${attempt.result}`;
    let attemptSeries = handles.attempts.get(attemptKey);
    if (!attemptSeries) {
      attemptSeries = stable(store, () => ({
        attempts: store.handle("attempts", [workload, destination, endpoint, String(attempt.status), attempt.result]),
        attemptDuration: store.handle("attemptDuration", [destination, endpoint]),
      }));
      if (handles.generation !== store.generation) {
        // Series were dropped while taking these: the route-level handles of this request may be stale.
        return recordRest(store, outcome, workload, destination, route, attempt);
      }
      handles.attempts.set(attemptKey, attemptSeries);
    }
    attemptSeries.attempts.count++;
    observeInto("attemptDuration", attemptSeries.attemptDuration, attempt.latencyMs / 1000);
  }
  observeInto("meshDuration", routeSeries.meshDuration, Math.max(0, outcome.latencyMs - upstreamTimeMs(outcome)) / 1000);
  if (requestBytes) routeSeries.requestBytes!.count += requestBytes;
  if (responseBytes) routeSeries.responseBytes!.count += responseBytes;
  recordRare(store, outcome, workload, destination, route);
}

/**
 * The rest of an outcome after a fold in the middle of recording it (rare: a family at its cap
 * while a new series comes): the attempts from `from` on and the route-level series after them, by
 * labels, as the store always takes them.
 */
function recordRest(store: MetricStore, outcome: Outcome, workload: string, destination: string, route: string, from: Outcome["tries"][number]): void {
  for (const attempt of outcome.tries.slice(outcome.tries.indexOf(from))) {
    const endpoint = attempt.endpoint ?? "";
    store.inc("attempts", [workload, destination, endpoint, String(attempt.status), attempt.result]);
    store.observe("attemptDuration", [destination, endpoint], attempt.latencyMs / 1000);
  }
  store.observe("meshDuration", [destination, route], Math.max(0, outcome.latencyMs - upstreamTimeMs(outcome)) / 1000);
  if (outcome.requestBytes) store.inc("requestBytes", [workload, destination, route], outcome.requestBytes);
  if (outcome.responseBytes) store.inc("responseBytes", [workload, destination, route], outcome.responseBytes);
  recordRare(store, outcome, workload, destination, route);
}

/**
 * What only some requests count (retries, refusals): by labels, no handles kept. A refused credential
 * is the caller's workload token (or binding) or the end user's token (RequestAuthentication), both
 * by their refusal code; a request has at most one, as the first refusal ends it.
 */
function recordRare(store: MetricStore, outcome: Outcome, workload: string, destination: string, route: string): void {
  if (outcome.attempts > 1) store.inc("retries", [destination, route], outcome.attempts - 1);
  if (outcome.retryBudgetExhausted) store.inc("retryBudgetExhausted", [destination]);
  if (outcome.reason === "rate_limited") store.inc("rateLimited", [workload, destination, route]);
  if (outcome.authz?.decision === "deny" && !outcome.authz.dryRun) store.inc("denied", [workload, destination, outcome.authz.policy ?? ""]);
  if (outcome.source && "refused" in outcome.source) store.inc("unauthenticated", [route, outcome.source.refused]);
  else if (outcome.endUser && "refused" in outcome.endUser) store.inc("unauthenticated", [route, outcome.endUser.refused]);
}
