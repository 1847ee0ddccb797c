/**
 * A Worker backend that verifies the mesh's caller token with the client module, as a Worker service
 * behind the mesh would: bundled for workerd by test/gateway/client-in-workers.test.ts. The JWKS URL
 * comes in a header (the gateway's port is known only once it runs); the answer says what it found.
 */
import { meshVerifier, type MeshVerifier } from "../../client/mesh-identity.ts";

let mesh: MeshVerifier | undefined;

export default {
  async fetch(request: Request, _env: unknown, ctx: ExecutionContext): Promise<Response> {
    mesh ??= meshVerifier({ jwksUrl: request.headers.get("x-test-jwks-url")!, audience: "spiffe://mesh.test/ns/default/sa/wrk", trustDomain: "mesh.test" });
    const result = await mesh.verify(request.headers, ctx);
    return Response.json(result.ok ? { ok: true, caller: result.token.subject.id } : { ok: false, reason: result.reason });
  },
};
