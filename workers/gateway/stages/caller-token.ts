/**
 * Tells the chosen upstream who is calling, in a form it can verify: the mesh-signed token for the
 * (caller, destination) pair in `edgemesh-caller-token` (sub: the caller's SPIFFE ID, or the
 * gateway's own for an anonymous caller; aud: the destination's SPIFFE ID). Cached per pair
 * (identity/upstream-tokens.ts), so the steady state signs nothing. Without an Issuer, or while it
 * fails, the request goes without one (an upstream that requires it refuses the call). Mirrored
 * copies carry none: they leave with the request as the rule's filters left it.
 */
import { CALLER_TOKEN_HEADER } from "../../../common/identity/request-token.ts";
import type { Stage } from "../context.ts";
import type { MeshIdentity } from "../identity/mesh-identity.ts";

function attach(headers: Headers, token: string | undefined): undefined {
  if (token) headers.set(CALLER_TOKEN_HEADER, token);
  return undefined;
}

export const callerToken = (identity: MeshIdentity): Stage => ({
  request(x) {
    if (!x.env.ISSUER) return undefined;
    const source = x.outcome.source;
    const caller = source && "id" in source ? source.id : identity.config(x.env).gatewayId;
    const destination = identity.destinationId(x.env, x.target.backend.name);
    // Never a token addressed to the mesh itself (validation keeps Backends out of its namespace; the Issuer refuses too).
    if (destination === identity.config(x.env).gatewayId) return undefined;
    const token = identity.upstreamTokens.tokenFor(x.env, x.ctx, caller, destination);
    if (!(token instanceof Promise)) return attach(x.upstream.headers, token);
    return token.then((issued) => attach(x.upstream.headers, issued));
  },
});
