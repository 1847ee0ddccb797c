/**
 * `POST /edgemesh/token`: an HTTP origin exchanges its bootstrap credential for a short-lived
 * workload token (aud: the gateway), which it then sends in `edgemesh-workload-token`. Body:
 * `{ "spiffeId": "spiffe://…/ns/<ns>/sa/<service>", "credential": "<secret>" }`; answer:
 * `{ "token", "expiresAt" }`, or 401 `unauthenticated` with the same message whatever was wrong.
 * The client module (client/workload-tokens.ts) calls it, caches the token and renews it before it
 * expires. The Issuer checks the credential and signs; this only carries the call, bounded.
 */
import { issuerOf } from "../../../common/protocol.ts";
import { BODY_TIMEOUT, bufferUpTo } from "../bounded-body.ts";
import type { GatewayEnv } from "../env.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import type { MeshIdentity } from "./mesh-identity.ts";

const MAX_BODY_BYTES = 8192;
/** A body of a few hundred bytes that has not arrived by then is not coming. */
const BODY_TIMEOUT_MS = 5_000;
const ISSUER_TIMEOUT_MS = 2_000;
const TOO_LARGE = `the body must be at most ${MAX_BODY_BYTES} bytes`;

const error = (status: number, reason: string, message: string, headers: Record<string, string> = {}) =>
  Response.json({ error: { status, reason, message } }, { status, headers: { ...headers, "x-edgemesh-reason": reason, "cache-control": "no-store" } });

export async function serveTokenExchange(request: Request, env: GatewayEnv, _identity: MeshIdentity): Promise<Response> {
  if (request.method !== "POST") return error(405, "method_not_allowed", "use POST", { allow: "POST" });
  if (!env.ISSUER) return error(503, "no_issuer", "this gateway has no Issuer binding");
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) return error(413, "payload_too_large", TOO_LARGE);
  // Read with a running count and a deadline: a chunked body, or one under a false Content-Length,
  // is cut at the limit rather than held whole in memory, and a stalled one gets 408.
  let read;
  try {
    read = request.body ? await bufferUpTo(request.body, MAX_BODY_BYTES, Date.now() + BODY_TIMEOUT_MS) : undefined;
  } catch (cause) {
    if (cause === BODY_TIMEOUT) return error(408, "request_body_timeout", `the body did not arrive within ${BODY_TIMEOUT_MS} ms`);
    return error(400, "invalid_request", "the body could not be read");
  }
  if (read?.kind === "stream") {
    read.stream.cancel().catch(() => undefined);
    return error(413, "payload_too_large", TOO_LARGE);
  }
  let body: { spiffeId?: unknown; credential?: unknown };
  try {
    body = JSON.parse(read?.kind === "buffered" ? new TextDecoder().decode(read.bytes) : "") as typeof body;
  } catch {
    return error(400, "invalid_request", 'the body must be JSON: { "spiffeId": "...", "credential": "..." }');
  }
  if (typeof body?.spiffeId !== "string" || typeof body.credential !== "string") {
    return error(400, "invalid_request", 'the body must be JSON: { "spiffeId": "...", "credential": "..." }');
  }
  let result;
  try {
    result = await withTimeout(issuerOf(env.ISSUER).exchange({ subject: body.spiffeId, credential: body.credential }), ISSUER_TIMEOUT_MS);
  } catch (cause) {
    console.error(JSON.stringify({ level: "error", message: "token exchange failed", error: String(cause) }));
    return error(503, "issuer_unavailable", "the issuer did not answer; try again", { "retry-after": "1" });
  }
  if (!result.ok) return error(401, "unauthenticated", result.message, { "www-authenticate": 'Edgemesh-Workload-Token error="invalid_credential"' });
  return Response.json({ token: result.token, expiresAt: result.expiresAt }, { headers: { "cache-control": "no-store" } });
}
