/**
 * The gateway: one Hono app whose middleware are the request stages, in this order (why):
 *  requestId       every request is named before anything can fail;
 *  recordOutcome   one outcome record per request, whatever happens below;
 *  prepareUpstream hop-by-hop headers out, forwarding and trace headers in;
 *  normalizePath   match on the path the upstream will see;
 *  matchRoute      host, then first match by Gateway API precedence (404 otherwise);
 *  modifyResponse  the rule's response headers, on every answer including errors;
 *  redirect        RequestRedirect answers here, without a backend;
 *  modifyRequest   URLRewrite and RequestHeaderModifier;
 *  mirror          the copy goes out after the response;
 *  splitTraffic    weighted choice of backendRef;
 *  rateLimit       local and global limits of the route and backend (429);
 *  bufferBody      keep the body when it may be sent again;
 *  forward         the attempt layers (stages/forward.ts).
 * Errors from any stage become synthetic responses in one place, onError.
 */
import { Hono } from "hono";
import type { MeshEnv } from "./context.ts";
import { MeshError, syntheticResponse } from "./errors.ts";
import type { OutcomeSink } from "./outcome.ts";
import { bufferBody } from "./stages/buffer-body.ts";
import { forward } from "./stages/forward.ts";
import { matchRoute } from "./stages/match-route.ts";
import { mirror } from "./stages/mirror.ts";
import { modifyRequest } from "./stages/modify-request.ts";
import { modifyResponse } from "./stages/modify-response.ts";
import { normalizePath } from "./stages/normalize-path.ts";
import { prepareUpstream } from "./stages/prepare-upstream.ts";
import { rateLimit } from "./stages/rate-limit.ts";
import { recordOutcome } from "./stages/record-outcome.ts";
import { redirect } from "./stages/redirect.ts";
import { requestId } from "./stages/request-id.ts";
import { splitTraffic } from "./stages/split-traffic.ts";
import type { TableSource } from "./control-plane/table-source.ts";

export interface GatewayOptions {
  tables: TableSource;
  sinks: readonly OutcomeSink[];
}

export function createGateway({ tables, sinks }: GatewayOptions): Hono<MeshEnv> {
  const app = new Hono<MeshEnv>();
  app.use(
    requestId(),
    recordOutcome(sinks),
    prepareUpstream(),
    normalizePath(),
    matchRoute(tables),
    modifyResponse(),
    redirect(),
    modifyRequest(),
    mirror(),
    splitTraffic(),
    rateLimit(),
    bufferBody(),
  );
  app.all("*", forward);
  app.onError((error, c) => {
    if (error instanceof MeshError) return syntheticResponse(error.status, error.reason, error.message, c.get("requestId"), error.headers);
    console.error(JSON.stringify({ level: "error", message: "unhandled error", requestId: c.get("requestId"), error: String(error?.stack ?? error) }));
    return syntheticResponse(500, "internal_error", "the gateway failed to handle the request", c.get("requestId"));
  });
  return app;
}
