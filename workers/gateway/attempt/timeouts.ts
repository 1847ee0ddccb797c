/**
 * Timeouts, as two layers: the request timeout bounds the whole call (every attempt and backoff), the
 * per-try timeout bounds one attempt. Both are signals that inner layers pass to their I/O; when one
 * fires, `timeoutError` tells which it was, so the retry layer knows whether another try may follow.
 */
import { MeshError } from "../errors.ts";
import type { CallContext, Layer } from "./call.ts";

export const requestTimeout: Layer = (inner) => (call) => {
  const ms = call.target.policy.requestTimeoutMs;
  if (!Number.isFinite(ms)) return inner(call);
  const deadline = AbortSignal.timeout(ms);
  return inner({ ...call, deadline, signal: deadline });
};

export const perTryTimeout: Layer = (inner) => (call) => {
  const ms = call.target.policy.perTryTimeoutMs;
  if (ms === undefined) return inner(call);
  call.signal = AbortSignal.any([call.deadline, AbortSignal.timeout(ms)]);
  return inner(call);
};

/** The error to throw when an attempt's signal aborted: a request timeout ends the call, a per-try one may be retried. */
export function timeoutError(call: CallContext, cause?: unknown): MeshError {
  return call.deadline.aborted
    ? new MeshError("request_timeout", `no response within the request timeout (${call.target.policy.requestTimeoutMs} ms)`, { cause })
    : new MeshError("per_try_timeout", `no response within the per-try timeout (${call.target.policy.perTryTimeoutMs} ms)`, { cause });
}
