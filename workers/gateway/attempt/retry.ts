/**
 * Retries: another attempt when the last one failed in a way the policy names (attempt/classify.ts),
 * while the method is safe to repeat, the body can be sent again, the per-backend retry budget and
 * parallel-retry limit allow it and the request deadline has not passed. Waits between attempts with
 * exponential backoff. When the request timeout is reached while retries are still in progress (the
 * next backoff would not end before the deadline), the answer is the timeout, 504, as GEP-1731 has it.
 */
import { MeshError } from "../errors.ts";
import type { RetryPolicy } from "../table/index.ts";
import type { Call, CallContext, Layer } from "./call.ts";
import { classifyError, classifyStatus, isRetriable, type AttemptResult } from "./classify.ts";
import { newSpanId } from "../trace-context.ts";
import { sleep } from "./sleep.ts";
import { endOf } from "./slots.ts";
import { requestTimeoutError } from "./timeouts.ts";

/** RFC 9110 idempotent methods: repeating them has the same effect as sending them once. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** Whether the policy allows sending this method again (the body aside). */
export const retriesMethod = (policy: RetryPolicy | undefined, method: string): policy is RetryPolicy =>
  policy !== undefined && (policy.retryNonIdempotent || IDEMPOTENT.has(method));

type Result = ({ response: Response; error?: undefined } | { error: MeshError; response?: undefined }) & { result: AttemptResult; status: number };

export const retry: Layer = (inner) => async (base) => {
  const { backend, policy } = base.target;
  const { state } = backend;
  state.retryBudget.recordRequest();
  const retryPolicy = policy.retry;
  const replayable = retriesMethod(retryPolicy, base.upstream.method) && base.upstream.body.kind !== "stream";

  let last = await attempt(inner, base);
  for (let retryIndex = 0; replayable && retryIndex < retryPolicy.numRetries; retryIndex++) {
    if (!isRetriable(retryPolicy, last.result, last.status)) break;
    const retries = state.retriesInFlight;
    if (retries.size >= backend.maxParallelRetries && retries.sweep(Date.now()) >= backend.maxParallelRetries) break;
    const wait = backoffMs(retryPolicy, retryIndex);
    if (wait >= base.deadlineAt - Date.now()) {
      await last.response?.body?.cancel();
      throw requestTimeoutError(base, true);
    }
    if (!state.retryBudget.tryWithdraw()) {
      if (base.outcome) base.outcome.retryBudgetExhausted = true;
      break;
    }
    // Counted before the first await: concurrent requests between the check above and here would all pass it.
    const slot = retries.take(endOf(base.deadlineAt, Date.now()));
    try {
      await last.response?.body?.cancel();
      await sleep(wait);
      last = await attempt(inner, base);
    } finally {
      retries.give(slot);
    }
  }
  if (last.error) throw last.error;
  return last.response;
};

async function attempt(inner: Call, base: CallContext): Promise<Result> {
  const call: CallContext = { ...base, signal: undefined, timedOut: undefined, endpoint: undefined };
  const startedAt = Date.now();
  const outcome = base.outcome;
  // Each attempt is a client span of its own, the parent of what the upstream records.
  const spanId = newSpanId();
  if (outcome) base.upstream.headers.set("traceparent", `00-${outcome.traceId}-${spanId}-${outcome.traceFlags}`);
  let result: Result;
  try {
    const response = await inner(call);
    result = { response, result: classifyStatus(response.status), status: response.status };
  } catch (error) {
    if (!(error instanceof MeshError)) throw error;
    result = { error, result: classifyError(error), status: error.status };
  }
  if (outcome) {
    outcome.tries.push({
      endpoint: call.endpoint?.id,
      status: result.status,
      reason: result.error?.reason,
      result: result.result,
      latencyMs: Date.now() - startedAt,
      spanId,
      startedAt,
      // With a streamed body, a reset or timeout may be the client's (it stopped or slowed its upload).
      ...(result.error && base.upstream.body.kind === "stream" && { clientMayBeAtFault: true }),
    });
    outcome.endpoint = call.endpoint?.id;
    outcome.attempts++;
  }
  return result;
}

/**
 * Exponential backoff with "equal jitter": half the capped interval, plus a random part of the other
 * half. Unlike full jitter it never retries at once, so a retry always gives the backend some air.
 */
export function backoffMs(policy: RetryPolicy, retryIndex: number, random = Math.random): number {
  const cap = Math.min(policy.maxIntervalMs, policy.baseIntervalMs * 2 ** retryIndex);
  return cap / 2 + random() * (cap / 2);
}
