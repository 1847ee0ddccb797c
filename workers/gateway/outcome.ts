/**
 * The one record each request yields. Metrics, logs, traces and the circuit breaker all read this and
 * nothing else, after the response has gone (`ctx.waitUntil`), so none of them is on the request path.
 */
import type { Refusal } from "../../common/identity/reasons.ts";
import type { AttemptResult } from "./attempt/classify.ts";
import type { AuthzDecision } from "./authz/evaluate.ts";
import type { GatewayEnv } from "./env.ts";
import type { Reason } from "./errors.ts";

export interface TryRecord {
  /** Endpoint id ("http://127.0.0.1:9101" or "worker:RATINGS"); undefined when none was picked. */
  endpoint: string | undefined;
  /** Upstream status, or the synthetic status of a local failure (503 reset, 504 per-try timeout). */
  status: number;
  /** internal_error: the gateway's own failure after the endpoint answered; never the endpoint's fault. */
  reason: Reason | undefined;
  /** What the try's result means (attempt/classify.ts), for retries, health and timeouts alike. */
  result: AttemptResult;
  latencyMs: number;
  /** The attempt's client span: its id is the parent the upstream saw in traceparent. */
  spanId: string;
  /** Epoch milliseconds the attempt began. */
  startedAt: number;
  /** A local failure while streaming the client's body: not held against the endpoint's health. */
  clientMayBeAtFault?: true;
}

export interface Outcome {
  requestId: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** W3C trace flags: "01" when the trace is sampled (head sampling, or the caller's decision). */
  traceFlags: string;
  /** Epoch milliseconds when the gateway received the request. */
  startedAt: number;
  method: string;
  host: string;
  path: string;
  route: string | undefined;
  rule: number | undefined;
  backend: string | undefined;
  /** The endpoint of the last attempt. */
  endpoint: string | undefined;
  attempts: number;
  tries: TryRecord[];
  status: number;
  /** Set when the mesh made the response up itself (see errors.ts), undefined for upstream answers. */
  reason: Reason | undefined;
  latencyMs: number;
  retryBudgetExhausted: boolean;
  faults: ("delay" | "abort")[];
  /**
   * The caller (stages/authenticate.ts): its SPIFFE ID and whether a workload token or its service
   * binding said so, or why its credential was refused. Absent for an anonymous caller, or where the
   * backend's peerAuthentication is DISABLE and the caller came without a binding identity.
   */
  source?: { id: string; via: "token" | "binding" } | { refused: Refusal };
  /**
   * AuthorizationPolicy (stages/authorize.ts), when one denied the call, would have (dry-run) or
   * audits it: the decision, the deciding policy and its action; `dryRun` when a dry-run policy would
   * have denied (and did not); `audit`, the AUDIT policies that matched. Absent for a plain allow.
   */
  authz?: AuthzDecision;
  /** Body sizes as declared by Content-Length (a streamed body without one is not counted). */
  requestBytes?: number;
  responseBytes?: number;
  /** The end user (stages/request-authentication.ts): Istio's requestPrincipal "<iss>/<sub>", or why the token was refused. Absent without a token. */
  endUser?: { principal: string } | { refused: Refusal };
}

/** The time the request spent at upstreams (its attempts'), so the mesh's own is the rest. */
export function upstreamTimeMs(outcome: Outcome): number {
  let total = 0;
  for (const attempt of outcome.tries) total += attempt.latencyMs;
  return total;
}

export type OutcomeSink = (outcome: Outcome, env: GatewayEnv) => void | Promise<void>;
