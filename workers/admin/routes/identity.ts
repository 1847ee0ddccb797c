/**
 * Identity over the Issuer: who the caller is (whoami), the signing keys (list, rotate, revoke) and
 * the bootstrap credentials HTTP origins exchange for workload tokens (create, list, delete). Every
 * change is audited as made by the verified caller; a credential's secret is in one answer only,
 * the one that made it, and in no log.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { parseSpiffeId } from "../../../common/identity/spiffe-id.ts";
import { issuer, problem, type AdminApp } from "../context.ts";
import { CredentialCreated, CredentialList, CredentialPath, CredentialRequest, ErrorBody, json, KeyList, Kid, WhoAmI } from "../schemas.ts";

const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });
const NO_STORE = { "cache-control": "no-store" };

export function identityRoutes(app: AdminApp): void {
  app.openapi(
    createRoute({ method: "get", path: "/whoami", tags: ["identity"], summary: "The verified caller, how it was verified, and its role", responses: { 200: json(WhoAmI, "the caller") } }),
    (c) => {
      const { id, via, role } = c.var.caller;
      return c.json({ identity: id, via, role: role ?? null }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/identity/keys", tags: ["identity"], summary: "The Issuer's signing keys: ids, states and times (never a private part)", responses: { 200: json(KeyList, "the keys") } }),
    async (c) => c.json({ keys: await issuer(c.env).keyInfo() }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/identity/keys/rotate",
      tags: ["identity"],
      summary: "Publish the next signing key now; it signs once the pre-publication time has passed",
      responses: { 200: json(KeyList, "the keys, with the next one published"), 409: json(ErrorBody, "key_pinned: MESH_ISSUER_KEY pins the signing key") },
    }),
    async (c) => {
      // The Issuer writes the audit record with the change (durable-objects/audit-outbox.ts), as below.
      const keys = await issuer(c.env).rotate(c.var.actor);
      if (keys.some((key) => key.pinned && key.state === "signing")) {
        return c.json(problem(409, "key_pinned", "the signing key is pinned by MESH_ISSUER_KEY: replace that secret to change it"), 409);
      }
      return c.json({ keys }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/identity/keys/{kid}/revoke",
      tags: ["identity"],
      summary: "Remove a key from the trust bundle at once; tokens it signed are refused from then on",
      request: { params: Kid },
      responses: { 200: json(KeyList, "the keys left"), 404: json(ErrorBody, "no such key"), 409: json(ErrorBody, "key_pinned: the key is pinned by MESH_ISSUER_KEY") },
    }),
    async (c) => {
      const { kid } = c.req.valid("param");
      const result = await issuer(c.env).revoke(kid, c.var.actor);
      if (!result.ok) return c.json(problem(result.status, result.reason, result.message), result.status);
      return c.json({ keys: result.keys }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/identity/credentials",
      tags: ["identity"],
      summary: "Make a bootstrap credential for a workload; the secret is in this answer only",
      request: body(CredentialRequest),
      responses: {
        201: json(CredentialCreated, "made: give the credential to the workload now, it is not shown again"),
        400: json(ErrorBody, "not a SPIFFE ID of the mesh's trust domain"),
        409: json(ErrorBody, "credential_exists (delete it first), or too_many_credentials"),
      },
    }),
    async (c) => {
      const result = await issuer(c.env).createCredential(c.req.valid("json").spiffeId, c.var.actor);
      if (!result.ok) return c.json(problem(result.status, result.reason, result.message), result.status);
      return c.json({ spiffeId: result.spiffeId, credential: result.secret, createdAt: result.createdAt }, 201, NO_STORE);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/identity/credentials", tags: ["identity"], summary: "Which workloads have bootstrap credentials, and since when (never a secret)", responses: { 200: json(CredentialList, "the credentials") } }),
    async (c) => c.json({ credentials: await issuer(c.env).credentials() }, 200),
  );

  // The SPIFFE ID holds slashes (an encoded slash never reaches the admin API: the mesh refuses
  // %2F), so the parameter takes the rest of the path; documented apart, as the OpenAPI path.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "delete",
      path: "/identity/credentials/{spiffeId}",
      tags: ["identity"],
      summary: "Revoke a workload's stored credential: its next exchange is refused (tokens already issued live out their minutes)",
      description: "The SPIFFE ID is written into the path as it is, slashes and all: /admin/identity/credentials/spiffe://edgemesh.local/ns/default/sa/reviews",
      request: { params: CredentialPath },
      responses: { 200: json(z.object({ ok: z.literal(true) }), "revoked"), 400: json(ErrorBody, "not a SPIFFE ID"), 404: json(ErrorBody, "no stored credential"), 409: json(ErrorBody, "credential_in_secret: it is in MESH_WORKLOAD_CREDENTIALS") },
    }),
  );
  app.delete("/identity/credentials/:spiffeId{.+}", async (c) => {
    const spiffeId = c.req.param("spiffeId");
    // Checked here: registerPath above only documents the parameter.
    if (!CredentialPath.safeParse({ spiffeId }).success || !parseSpiffeId(spiffeId)) {
      return c.json(problem(400, "invalid_request", "spiffeId: must be a SPIFFE ID spiffe://<trust-domain>/ns/<namespace>/sa/<service>, written into the path as it is"), 400);
    }
    const result = await issuer(c.env).deleteCredential(spiffeId, c.var.actor);
    if (!result.ok) return c.json(problem(result.status, result.reason, result.message), result.status);
    return c.json({ ok: true as const }, 200);
  });
}
