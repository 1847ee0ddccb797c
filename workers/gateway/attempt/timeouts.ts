/**
 * Timeouts, as two layers. The request timeout sets a deadline for the whole call (every attempt and
 * backoff); the attempt timeout gives each attempt one timer, to the per-try timeout or the deadline,
 * whichever is sooner, and clears it as soon as the response headers arrive. One timer per attempt
 * and none left running: timers that outlive their request (AbortSignal.timeout) cost the isolate
 * CPU when they fire later. When a timer fires, `timeoutError` tells which limit it was, so the retry
 * layer knows whether another try may follow.
 */
import { MeshError } from "../errors.ts";
import type { CallContext, Layer } from "./call.ts";

/** Timers take a signed 32-bit delay; longer timeouts (GEP-2257 allows 99999h) are cut to ~24 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const requestTimeout: Layer = (inner) => (call) => {
  const ms = call.target.policy.requestTimeoutMs;
  // From the request's arrival: reading a buffered body (buffer-body.ts) counts against it too.
  if (Number.isFinite(ms)) call.deadlineAt = (call.outcome?.startedAt ?? Date.now()) + ms;
  return inner(call);
};

export const attemptTimeout: Layer = (inner) => async (call) => {
  const now = Date.now();
  const limit = Math.min(call.target.policy.perTryTimeoutMs ?? Infinity, call.deadlineAt - now);
  if (limit === Infinity) return inner(call);
  if (limit <= 0) throw timeoutError(call);
  const controller = new AbortController();
  const timer = setTimeout(() => {
    call.timedOut = Date.now() >= call.deadlineAt ? "request" : "try";
    controller.abort(new Error(`${call.timedOut} timeout`));
  }, Math.min(limit, MAX_TIMER_MS));
  call.signal = controller.signal;
  try {
    return await inner(call);
  } finally {
    clearTimeout(timer);
  }
};

/** The error for an attempt that ran out of time: a request timeout ends the call, a per-try one may be retried. */
export function timeoutError(call: CallContext, cause?: unknown): MeshError {
  const perTry = call.timedOut === "try" && Date.now() < call.deadlineAt;
  return perTry
    ? new MeshError("per_try_timeout", `no response within the per-try timeout (${call.target.policy.perTryTimeoutMs} ms)`, { cause })
    : requestTimeoutError(call);
}

/** `retrying`: the deadline came while retries were still in progress (the next one would not fit). */
export const requestTimeoutError = (call: CallContext, retrying = false) =>
  new MeshError(
    "request_timeout",
    retrying
      ? `the request timeout (${call.target.policy.requestTimeoutMs} ms) ends before the next retry could be sent`
      : `no response within the request timeout (${call.target.policy.requestTimeoutMs} ms)`,
  );
