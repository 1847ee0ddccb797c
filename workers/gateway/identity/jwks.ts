/**
 * `/.well-known/jwks.json`: the trust bundle the isolate verifies with, for origins and other
 * verifiers (the client module fetches it). Public keys only. Cached for the bundle's refresh hint
 * (at most MAX_CACHE_S), with the sequence as its ETag, so a poller that has the current bundle gets a 304.
 */
import type { GatewayEnv } from "../env.ts";
import type { MeshIdentity } from "./mesh-identity.ts";

/**
 * The longest a downstream cache may keep the bundle, whatever the refresh hint (which follows
 * MESH_KEY_PREPUBLISH_MS, up to 30 days): a revoked key leaves caches within this.
 */
const MAX_CACHE_S = 300;

export async function serveJwks(request: Request, env: GatewayEnv, identity: MeshIdentity): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
  // Before the first snapshot brought one, ask the source (not the mesh's request path).
  if (!identity.currentBundle()) await identity.refresh(env);
  const bundle = identity.currentBundle();
  if (!bundle) {
    return Response.json({ error: { status: 503, reason: "no_trust_bundle", message: "the mesh has no trust bundle yet" } }, { status: 503, headers: { "retry-after": "5" } });
  }
  const etag = `"${bundle.spiffe_sequence}"`;
  const headers = {
    "content-type": "application/jwk-set+json",
    "cache-control": `public, max-age=${Math.min(bundle.spiffe_refresh_hint, MAX_CACHE_S)}`,
    etag,
  };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return new Response(request.method === "HEAD" ? null : JSON.stringify(bundle), { headers });
}
