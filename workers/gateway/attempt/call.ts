/**
 * The inner pipeline, run once per attempt: a Call is one try at getting a response from the chosen
 * backend; a Layer wraps a Call with one behaviour (a tower layer). Layers throw MeshError for local
 * failures and return upstream responses as they are, whatever their status.
 */
import type { UpstreamRequest } from "../context.ts";
import type { GatewayEnv } from "../env.ts";
import type { EndpointRuntime } from "../lb/index.ts";
import type { Outcome } from "../outcome.ts";
import type { BackendTarget } from "../table/index.ts";

export interface CallContext {
  readonly env: GatewayEnv;
  /** The client's request, for balancer hash keys. */
  readonly request: Request;
  readonly upstream: UpstreamRequest;
  readonly target: BackendTarget;
  /** The request's outcome record; undefined for a mirrored copy, which counts toward nothing. */
  readonly outcome: Outcome | undefined;
  /** Epoch ms by which the whole call must have its response headers (Infinity: no request timeout). */
  deadlineAt: number;
  /** Aborts this attempt's I/O when its time is up; undefined when nothing bounds the attempt. */
  signal: AbortSignal | undefined;
  /** Which limit stopped this attempt, once one did. */
  timedOut: "request" | "try" | undefined;
  /** Set by the balancer for this attempt. */
  endpoint: EndpointRuntime | undefined;
  /** Endpoints earlier attempts of this request went to (shared by its attempts). */
  readonly tried: EndpointRuntime[];
}

export type Call = (call: CallContext) => Promise<Response>;
export type Layer = (inner: Call) => Call;

/** Stacks layers so that the first one listed is the outermost. */
export const stack = (layers: readonly Layer[], innermost: Call): Call => layers.reduceRight((inner, layer) => layer(inner), innermost);
