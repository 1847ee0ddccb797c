/** Read-only views: status, the audit log, rate-limit state. */
import { createRoute, z } from "@hono/zod-openapi";
import type { RateLimitRule } from "../../gateway/ratelimit/index.ts";
import { configStore, rateLimiter, type AdminApp, type AdminDeps } from "../context.ts";
import { AuditEntry, json, Page, RateLimitView } from "../schemas.ts";
import { heldBodyBytes } from "../../gateway/stages/buffer-body.ts";


const Status = z
  .object({
    isolate: z.object({
      tableVersion: z.number(),
      controlPlane: z.object({ version: z.number().nullable(), registryVersion: z.number().nullable(), checkedAt: z.number().nullable(), lastError: z.string().nullable() }),
      /** Request bodies this isolate holds for retries and mirrors now, of its ISOLATE_BUFFER_BYTES. */
      heldBodyBytes: z.number(),
    }),
    controlPlane: z.object({ version: z.number(), registryVersion: z.number(), bundleHash: z.string() }),
  })
  .openapi("Status");

export function observeRoutes(app: AdminApp, { tables, isolate: state }: AdminDeps): void {
  app.openapi(
    createRoute({ method: "get", path: "/status", tags: ["status"], summary: "Which version this isolate serves, and the control plane's", responses: { 200: json(Status, "status") } }),
    async (c) => {
      const table = await tables.current(c.env, c.executionCtx);
      const snapshot = await configStore(c.env).snapshot();
      return c.json(
        {
          isolate: { tableVersion: table.version, controlPlane: tables.describe(), heldBodyBytes: heldBodyBytes() },
          controlPlane: { version: snapshot.version, registryVersion: snapshot.registryVersion, bundleHash: snapshot.bundleHash },
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/audit", tags: ["audit"], summary: "The audit log, newest first (append-only: there is no way to edit it)", request: { query: Page }, responses: { 200: json(z.object({ entries: z.array(AuditEntry) }), "entries") } }),
    async (c) => {
      const { limit, before } = c.req.valid("query");
      return c.json({ entries: await configStore(c.env).audit(limit, before) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/ratelimits", tags: ["ratelimits"], summary: "Rate-limit rules in force, with global counters", responses: { 200: json(z.object({ rules: z.array(RateLimitView) }), "rules") } }),
    async (c) => {
      const table = await tables.current(c.env, c.executionCtx);
      const rules = new Map<string, RateLimitRule>();
      for (const target of table.targets) for (const rule of target.policy.rateLimits) rules.set(rule.id, rule);
      const isolate = state.limiters.describe();
      const views = await Promise.all(
        [...rules.values()].map(async (rule) => {
          const view = { id: rule.id, name: rule.name, scope: rule.scope, requests: rule.requests, windowMs: rule.windowMs, shards: rule.shards };
          if (rule.scope !== "global") return view;
          const shards = await Promise.all(
            Array.from({ length: rule.shards }, (_, shard) => rateLimiter(c.env, `${rule.id}#${shard}`).stats()),
          );
          return {
            ...view,
            isolateLeaseCalls: isolate[rule.id]?.calls ?? 0,
            global: shards.reduce((sum, s) => ({ calls: sum.calls + s.calls, granted: sum.granted + s.granted, keys: sum.keys + s.keys }), { calls: 0, granted: 0, keys: 0 }),
          };
        }),
      );
      return c.json({ rules: views }, 200);
    },
  );
}
