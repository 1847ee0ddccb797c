/**
 * Retries: another attempt when the last one failed in a way the policy names, while the method is
 * safe to repeat, the body can be sent again, the per-backend retry budget and parallel-retry limit
 * allow it and the request deadline has not passed. Waits between attempts with exponential backoff.
 */
import { MeshError } from "../errors.ts";
import type { RetryPolicy } from "../table/index.ts";
import type { Call, CallContext, Layer } from "./call.ts";
import { sleep } from "./sleep.ts";

/** RFC 9110 idempotent methods: repeating them has the same effect as sending them once. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Whether the policy allows sending this method again (the body aside). */
export const retriesMethod = (policy: RetryPolicy | undefined, method: string): policy is RetryPolicy =>
  policy !== undefined && (policy.retryNonIdempotent || IDEMPOTENT.has(method));

type Result = { response: Response; error?: undefined } | { error: MeshError; response?: undefined };

export const retry: Layer = (inner) => async (base) => {
  const { backend, policy } = base.target;
  const { state } = backend;
  state.retryBudget.recordRequest();
  const retryPolicy = policy.retry;
  const replayable = retriesMethod(retryPolicy, base.upstream.method) && base.upstream.body.kind !== "stream";

  let result = await attempt(inner, base);
  for (let retryIndex = 0; replayable && retryIndex < retryPolicy.numRetries; retryIndex++) {
    if (!shouldRetry(retryPolicy, result)) break;
    if (state.retriesInFlight >= backend.maxParallelRetries) break;
    // No time left for the backoff and another try: the last answer stands.
    const wait = backoffMs(retryPolicy, retryIndex);
    if (wait >= base.deadlineAt - Date.now()) break;
    if (!state.retryBudget.tryWithdraw()) {
      base.outcome.retryBudgetExhausted = true;
      break;
    }
    await result.response?.body?.cancel();
    state.retriesInFlight++;
    try {
      await sleep(wait);
      result = await attempt(inner, base);
    } finally {
      state.retriesInFlight--;
    }
  }
  if (result.error) throw result.error;
  return result.response;
};

async function attempt(inner: Call, base: CallContext): Promise<Result> {
  const call: CallContext = { ...base, signal: undefined, timedOut: undefined, endpoint: undefined };
  const startedAt = Date.now();
  let result: Result;
  try {
    result = { response: await inner(call) };
  } catch (error) {
    if (!(error instanceof MeshError)) throw error;
    result = { error };
  }
  base.outcome.tries.push({
    endpoint: call.endpoint?.id,
    status: result.response?.status ?? result.error!.status,
    reason: result.error?.reason,
    latencyMs: Date.now() - startedAt,
    // With a streamed body, a reset or timeout may be the client's (it stopped or slowed its upload).
    ...(result.error && base.upstream.body.kind === "stream" && { clientMayBeAtFault: true }),
  });
  base.outcome.endpoint = call.endpoint?.id;
  base.outcome.attempts++;
  return result;
}

/** Whether a result is one the policy retries, in Envoy's vocabulary. */
export function shouldRetry(policy: RetryPolicy, result: Result): boolean {
  const { triggers } = policy;
  if (result.error) {
    switch (result.error.reason) {
      case "upstream_reset":
        // workerd reports a refused connection and a reset alike ("Network connection lost").
        return triggers.has("reset") || triggers.has("connect-failure") || triggers.has("5xx") || triggers.has("gateway-error");
      case "per_try_timeout":
        return triggers.has("5xx") || triggers.has("gateway-error") || triggers.has("reset");
      default:
        // request_timeout, overflow, no_healthy_upstream: another try cannot help.
        return false;
    }
  }
  const status = result.response.status;
  if (triggers.has("5xx") && status >= 500) return true;
  if (triggers.has("gateway-error") && (status === 502 || status === 503 || status === 504)) return true;
  return triggers.has("retriable-status-codes") && policy.statusCodes.has(status);
}

/**
 * Exponential backoff with "equal jitter": half the capped interval, plus a random part of the other
 * half. Unlike full jitter it never retries at once, so a retry always gives the backend some air.
 */
export function backoffMs(policy: RetryPolicy, retryIndex: number, random = Math.random): number {
  const cap = Math.min(policy.maxIntervalMs, policy.baseIntervalMs * 2 ** retryIndex);
  return cap / 2 + random() * (cap / 2);
}
