/**
 * Tells the chosen upstream who is calling, in a form it can verify: the mesh-signed token for the
 * (caller, destination) pair in `edgemesh-caller-token` (sub: the caller's SPIFFE ID, or the
 * gateway's own for an anonymous caller; aud: the destination's SPIFFE ID). Cached per pair
 * (identity/upstream-tokens.ts), so the steady state signs nothing. Without an Issuer, or while it
 * fails, the request goes without one (an upstream that requires it refuses the call). Mirrored
 * copies carry none: they leave with the request as the rule's filters left it.
 */
import { createMiddleware } from "hono/factory";
import { CALLER_TOKEN_HEADER } from "../../../common/identity/request-token.ts";
import type { MeshEnv } from "../context.ts";
import type { MeshIdentity } from "../identity/mesh-identity.ts";

export const callerToken = (identity: MeshIdentity) =>
  createMiddleware<MeshEnv>(async function callerToken(c, next) {
    if (!c.env.ISSUER) return next();
    const source = c.get("outcome").source;
    const caller = source && "id" in source ? source.id : identity.config(c.env).gatewayId;
    const destination = identity.destinationId(c.env, c.get("target").backend.name);
    const pending = identity.upstreamTokens.tokenFor(c.env, c.executionCtx, caller, destination);
    const token = pending instanceof Promise ? await pending : pending;
    if (token) c.get("upstream").headers.set(CALLER_TOKEN_HEADER, token);
    await next();
  });
