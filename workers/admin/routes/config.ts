/** Configuration: current version, history, apply (with dry run), diff, rollback. */
import { createRoute, z } from "@hono/zod-openapi";
import { formatBytes, POLICY_SET_LIMITS } from "../../../common/config-limits.ts";
import type { Json, ApplyResult as StoreApplyResult } from "../../../common/protocol.ts";
import { configStore, problem, type AdminApp } from "../context.ts";
import { ApplyBody, ApplyResult, ConfigBody, ErrorBody, json, ObjectChange, Page, RollbackBody, VersionSummary } from "../schemas.ts";

const errors = {
  400: json(ErrorBody, "invalid request or policy set, or an empty set without allowEmpty; nothing changed"),
  404: json(ErrorBody, "no such version"),
  409: json(ErrorBody, "version conflict: the current version is not baseVersion; nothing changed"),
  413: json(ErrorBody, `payload_too_large: the body is over ${formatBytes(POLICY_SET_LIMITS.bodyBytes)}, or the set over ${POLICY_SET_LIMITS.documents} documents or ${formatBytes(POLICY_SET_LIMITS.documentBytes)} per document; nothing changed`),
};
const Version = z.object({ version: z.coerce.number().int().min(1) });

function answer(c: Parameters<Parameters<AdminApp["openapi"]>[1]>[0], result: StoreApplyResult) {
  if (result.ok) {
    const { dryRun, unchanged, fromVersion, version, changes, published, warnings } = result;
    return c.json({ dryRun, unchanged, fromVersion, version, changes: changes as z.infer<typeof ObjectChange>[], published, warnings }, 200);
  }
  if ("errors" in result) {
    return c.json(problem(400, "invalid_policy", `${result.messages.length} error(s) in the policy set; nothing was applied`, { errors: result.messages }), 400);
  }
  if (result.status === 409) return c.json(problem(409, "version_conflict", result.message, { currentVersion: result.currentVersion }), 409);
  return c.json(problem(result.status, result.reason, result.message), result.status);
}

export function configRoutes(app: AdminApp): void {
  app.openapi(
    createRoute({ method: "get", path: "/config", tags: ["config"], summary: "The current configuration", responses: { 200: json(ConfigBody, "current version"), 404: errors[404] } }),
    async (c) => {
      // Json is recursive; the schema says unknown[]: widen it rather than make the checker recurse.
      const current = (await configStore(c.env).current()) as { version: number; documents: unknown[]; sources: string[] } | undefined;
      return current ? c.json(current, 200) : c.json(problem(404, "not_found", "no configuration yet"), 404);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/config/versions", tags: ["config"], summary: "Version history, newest first", request: { query: Page }, responses: { 200: json(z.object({ versions: z.array(VersionSummary) }), "versions") } }),
    async (c) => {
      const { limit, before } = c.req.valid("query");
      return c.json({ versions: await configStore(c.env).history(limit, before) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/config/versions/{version}", tags: ["config"], summary: "One version's documents", request: { params: Version }, responses: { 200: json(z.object({ summary: VersionSummary, documents: z.array(z.unknown()) }), "the version"), 404: errors[404] } }),
    async (c) => {
      const { version } = c.req.valid("param");
      const found = (await configStore(c.env).getVersion(version)) as { summary: z.infer<typeof VersionSummary>; documents: unknown[] } | undefined;
      return found ? c.json(found, 200) : c.json(problem(404, "not_found", await configStore(c.env).versionMissing(version)), 404);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/config/diff",
      tags: ["config"],
      summary: "What changed between two versions",
      request: { query: z.object({ from: z.coerce.number().int().min(1), to: z.coerce.number().int().min(1) }) },
      responses: { 200: json(z.object({ from: z.number(), to: z.number(), changes: z.array(ObjectChange) }), "the changes"), 404: errors[404] },
    }),
    async (c) => {
      const { from, to } = c.req.valid("query");
      const changes = (await configStore(c.env).diff(from, to)) as z.infer<typeof ObjectChange>[] | undefined;
      if (changes) return c.json({ from, to, changes }, 200);
      const missing = (await configStore(c.env).getVersion(from)) ? to : from;
      return c.json(problem(404, "not_found", await configStore(c.env).versionMissing(missing)), 404);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/config/apply",
      tags: ["config"],
      summary: "Validate a policy set and make it the next version (or only diff it, with dryRun)",
      request: { body: { content: { "application/json": { schema: ApplyBody } }, required: true } },
      responses: { 200: json(ApplyResult, "applied, unchanged, or the dry run's diff"), 400: errors[400], 404: errors[404], 409: errors[409], 413: errors[413] },
    }),
    async (c) => {
      const body = c.req.valid("json");
      return answer(c, await configStore(c.env).apply({ ...body, documents: body.documents as Json[], actor: c.var.actor }));
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/config/rollback",
      tags: ["config"],
      summary: "Make an earlier version's documents the next version",
      request: { body: { content: { "application/json": { schema: RollbackBody } }, required: true } },
      responses: { 200: json(ApplyResult, "rolled back, or unchanged"), 400: errors[400], 404: errors[404], 409: errors[409], 413: errors[413] },
    }),
    async (c) => answer(c, await configStore(c.env).rollback({ ...c.req.valid("json"), actor: c.var.actor })),
  );
}
