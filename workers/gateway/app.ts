/**
 * The gateway's whole request path, in order. The request stages each do one job (stages/), in the
 * order and with the semantics of a middleware chain (pipeline.ts); then the backend is called
 * through the attempt layers (attempt/), a stack run once per try. Errors from any stage become
 * synthetic responses in one place, onError.
 */
import { loadBalance } from "./attempt/balance.ts";
import { stack, type Call } from "./attempt/call.ts";
import { faultInjection } from "./attempt/fault.ts";
import { concurrencyLimit } from "./attempt/limits.ts";
import { retry } from "./attempt/retry.ts";
import { send } from "./attempt/send.ts";
import { attemptTimeout, requestTimeout } from "./attempt/timeouts.ts";
import type { Exchange } from "./context.ts";
import type { TableSource } from "./control-plane/table-source.ts";
import { MeshError, syntheticResponse } from "./errors.ts";
import type { GatewayEnv } from "./env.ts";
import type { IsolateState } from "./isolate-state.ts";
import type { OutcomeSink } from "./outcome.ts";
import { pipeline } from "./pipeline.ts";
import { authenticate } from "./stages/authenticate.ts";
import { authorize } from "./stages/authorize.ts";
import { bufferBody } from "./stages/buffer-body.ts";
import { callerToken } from "./stages/caller-token.ts";
import { matchRoute } from "./stages/match-route.ts";
import { mirror } from "./stages/mirror.ts";
import { modifyRequest } from "./stages/modify-request.ts";
import { modifyResponse } from "./stages/modify-response.ts";
import { normalizePath } from "./stages/normalize-path.ts";
import { prepareUpstream } from "./stages/prepare-upstream.ts";
import { rateLimit } from "./stages/rate-limit.ts";
import { recordOutcome } from "./stages/record-outcome.ts";
import { redirect } from "./stages/redirect.ts";
import { requestAuthentication } from "./stages/request-authentication.ts";
import { requestId } from "./stages/request-id.ts";
import { splitTraffic } from "./stages/split-traffic.ts";

/**
 * One try at the chosen backend, outermost layer first, with why:
 *  requestTimeout   the whole call, retries and backoff included, is bounded;
 *  retry            another attempt after a retriable failure, within budget;
 *  attemptTimeout   each attempt is bounded on its own, so a hung try leaves time to retry;
 *  concurrencyLimit fail fast with 503 rather than pile up on a saturated backend;
 *  faultInjection   injected faults look to the layers above like a misbehaving backend;
 *  loadBalance      an endpoint per attempt; a retry goes to one not tried yet, if any;
 *  send             the request itself.
 */
const callBackend: Call = stack([requestTimeout, retry, attemptTimeout, concurrencyLimit, faultInjection, loadBalance], send);

/**
 * A mirrored copy: the same stack less what would make it count (no retries, no concurrency limit or
 * budget, no faults, no outcome record), with a timeout of its own.
 */
const callMirror: Call = stack([requestTimeout, attemptTimeout, loadBalance], send);

export interface GatewayOptions {
  tables: TableSource;
  isolate: IsolateState;
  sinks: readonly OutcomeSink[];
}

export interface Gateway {
  fetch(request: Request, env: GatewayEnv, ctx: ExecutionContext): Promise<Response>;
}

export function createGateway({ tables, isolate, sinks }: GatewayOptions): Gateway {
  const run = pipeline(
    [
      requestId, //               every request is named before anything can fail;
      recordOutcome(sinks), //    one outcome record per request, whatever happens below;
      prepareUpstream, //         hop-by-hop and mesh-internal headers out, forwarding and trace headers in;
      normalizePath, //           match on the path the upstream will see;
      matchRoute(tables), //      host, then first match by Gateway API precedence (404 otherwise);
      authenticate(isolate.identity), // the caller's mesh identity, as the backends' peerAuthentication asks (401);
      requestAuthentication(isolate.endUsers), // the end user's JWT, as the rule's RequestAuthentications accept (401);
      modifyResponse, //          the rule's response headers, on every answer including errors;
      redirect, //                RequestRedirect answers here, without a backend;
      modifyRequest, //           URLRewrite and RequestHeaderModifier;
      mirror(callMirror), //      the copy goes out after the response, through the mirror stack;
      splitTraffic, //            weighted choice of backendRef;
      authorize, //               AuthorizationPolicy on the request as the upstream will see it (403), before any limit is spent;
      rateLimit(isolate.limiters), // local and global limits of the route and backend (429);
      callerToken(isolate.identity), // the mesh-signed token that tells the backend who calls;
      bufferBody, //              keep the body when it may be sent again.
    ],
    (x) =>
      callBackend({
        env: x.env,
        request: x.request,
        upstream: x.upstream,
        target: x.target,
        outcome: x.outcome,
        deadlineAt: Infinity,
        signal: undefined,
        timedOut: undefined,
        endpoint: undefined,
        tried: [],
      }),
    onError,
  );
  return {
    fetch(request, env, ctx) {
      const x: Exchange = {
        request,
        headers: request.headers,
        env,
        ctx,
        // Set by the stages, in order, before any later stage reads them (context.ts).
        requestId: "",
        url: undefined!,
        trace: undefined!,
        outcome: undefined!,
        upstream: undefined!,
        table: undefined!,
        route: undefined!,
        endUser: undefined,
        target: undefined!,
        ruleUpstream: undefined,
        rateLimitHeaders: undefined,
        error: undefined,
      };
      // As when the stages were Hono middleware: the answer to a HEAD request goes without a body.
      return request.method === "HEAD" ? run(x).then((response) => new Response(null, response)) : run(x);
    },
  };
}

function onError(error: unknown, x: Exchange): Response {
  if (error instanceof MeshError) return syntheticResponse(error.status, error.reason, error.message, x.requestId, error.headers);
  console.error(JSON.stringify({ level: "error", message: "unhandled error", requestId: x.requestId, error: String((error as Error | undefined)?.stack ?? error) }));
  return syntheticResponse(500, "internal_error", "the gateway failed to handle the request", x.requestId);
}
