/**
 * What one attempt's result means, decided here once: the retry layer reads it (may another try
 * help?), the health sink (does it count against the endpoint?) and the outcome (was it a timeout?).
 * Envoy's vocabulary: an upstream's status, a connection that failed or was reset, a per-try or a
 * request timeout, or a failure that is the mesh's own and never the endpoint's.
 */
import type { MeshError } from "../errors.ts";
import type { TryRecord } from "../outcome.ts";
import type { RetryPolicy } from "../table/index.ts";

export type AttemptResult =
  /** Any answer below 500, from the upstream or made up by a fault. */
  | "success"
  /** A 5xx other than 502, 503, 504. */
  | "5xx"
  /** 502, 503 or 504. */
  | "gateway-error"
  /** No connection, or one reset before the response: workerd reports both as "Network connection lost". */
  | "connect-failure"
  | "per-try-timeout"
  | "request-timeout"
  /** The mesh's own doing (overflow, no healthy endpoint, a failure inside the gateway): another try cannot help, and no endpoint is to blame. */
  | "local";

/** Outlier detection's view: "gateway" counts for consecutiveGatewayErrors and consecutive5xx alike. */
export type Failure = "none" | "5xx" | "gateway";

export function classifyStatus(status: number): AttemptResult {
  if (status === 502 || status === 503 || status === 504) return "gateway-error";
  return status >= 500 ? "5xx" : "success";
}

export function classifyError(error: MeshError): AttemptResult {
  switch (error.reason) {
    case "upstream_reset":
      return "connect-failure";
    case "per_try_timeout":
      return "per-try-timeout";
    case "request_timeout":
      return "request-timeout";
    default:
      return "local";
  }
}

/** Whether the policy retries this result, in Envoy's trigger vocabulary. */
export function isRetriable(policy: RetryPolicy, result: AttemptResult, status: number): boolean {
  const { triggers } = policy;
  switch (result) {
    case "connect-failure":
      return triggers.has("reset") || triggers.has("connect-failure") || triggers.has("5xx") || triggers.has("gateway-error");
    case "per-try-timeout":
      return triggers.has("5xx") || triggers.has("gateway-error") || triggers.has("reset");
    case "request-timeout":
    case "local":
      return false;
    case "success":
    case "5xx":
    case "gateway-error":
      if (triggers.has("retriable-status-codes") && policy.statusCodes.has(status)) return true;
      if (result === "success") return false;
      return triggers.has("5xx") || (result === "gateway-error" && triggers.has("gateway-error"));
  }
}

/**
 * How a try weighs on its endpoint's health. Local failures never do; nor does a failure while the
 * client's body was still streaming in, which may be the client's (it stopped or slowed its upload).
 */
export function healthFailure(attempt: TryRecord): Failure {
  if (attempt.clientMayBeAtFault) return "none";
  switch (attempt.result) {
    case "success":
    case "local":
      return "none";
    case "5xx":
      return "5xx";
    default:
      return "gateway";
  }
}

export const isTimeout = (result: AttemptResult) => result === "per-try-timeout" || result === "request-timeout";
