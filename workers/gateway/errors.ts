/**
 * Every response the mesh makes up itself comes from here: a status, a stable reason code (also in
 * the `x-edgemesh-reason` header) and a JSON body. Clients and dashboards key on the reason, so the
 * codes below are an interface: add new ones, never rename.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { REASON_HEADER } from "./mesh-headers.ts";

export const REASONS = {
  invalid_request: 400,
  // No verified mesh identity where the backend requires one, or a workload token that failed verification.
  unauthenticated: 401,
  // An AuthorizationPolicy denied the call (stages/authorize.ts); the message names the policy.
  denied: 403,
  no_route: 404,
  no_backend: 500,
  internal_error: 500,
  // Envoy's UF / UR: a connection that failed or was reset is 503, retried or not.
  upstream_reset: 503,
  no_healthy_upstream: 503,
  overflow: 503,
  rate_limited: 429,
  request_body_timeout: 408,
  request_timeout: 504,
  per_try_timeout: 504,
} as const satisfies Record<string, ContentfulStatusCode>;

export type Reason = keyof typeof REASONS | "fault_abort";

export { REASON_HEADER };

export class MeshError extends HTTPException {
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly reason: Reason,
    message: string,
    options: { status?: ContentfulStatusCode; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(options.status ?? REASONS[reason as keyof typeof REASONS] ?? 500, { message, cause: options.cause });
    this.headers = options.headers;
  }
}

/** Responses the mesh made up, so the outcome knows them from an upstream's (whatever headers it sent). */
const synthetic = new WeakSet<Response>();

export const isSynthetic = (response: Response) => synthetic.has(response);

/** Statuses that may not carry a body (a fault may inject one of them). */
const NULL_BODY = new Set([101, 204, 205, 304]);

export function syntheticResponse(
  status: number,
  reason: Reason,
  message: string,
  requestId: string | undefined,
  headers: Record<string, string> = {},
): Response {
  const body = NULL_BODY.has(status) ? null : JSON.stringify({ error: { status, reason, message, requestId } });
  const response = new Response(body, {
    status,
    headers: { ...headers, ...(body && { "content-type": "application/json" }), [REASON_HEADER]: reason },
  });
  synthetic.add(response);
  return response;
}
