/** The admin API's request and response shapes: validated at the edge and the source of /admin/openapi.json. */
import { z } from "@hono/zod-openapi";

/** An OpenAPI JSON response (or request body) of this schema. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });

export const ErrorBody = z
  .object({
    error: z.object({
      status: z.number(),
      reason: z.string(),
      message: z.string(),
      errors: z.array(z.string()).optional().openapi({ description: "one line per problem, as `npm run validate` prints them" }),
      currentVersion: z.number().optional(),
    }),
  })
  .openapi("Error");

export const VersionSummary = z
  .object({
    version: z.number(),
    createdAt: z.number(),
    actor: z.string(),
    action: z.enum(["seed", "deploy", "apply", "rollback"]),
    message: z.string(),
    documents: z.number(),
  })
  .openapi("VersionSummary");

export const ObjectChange = z
  .object({
    object: z.string().openapi({ example: "HTTPRoute/reviews" }),
    change: z.enum(["added", "removed", "changed"]),
    fields: z.array(z.object({ path: z.string(), from: z.unknown().optional(), to: z.unknown().optional() })).optional(),
  })
  .openapi("ObjectChange");

const Documents = z.array(z.unknown()).max(1000).openapi({ description: "policy documents (see policies/edgemesh.schema.json)" });

export const ApplyBody = z
  .object({
    documents: Documents,
    sources: z.array(z.string().max(256)).max(1000).optional().openapi({ description: "file of each document, for error messages" }),
    baseVersion: z.int().min(0).optional().openapi({ description: "409 unless this is still the current version" }),
    dryRun: z.boolean().optional(),
    message: z.string().max(1000).optional(),
  })
  .strict()
  .openapi("ApplyRequest");

export const RollbackBody = z
  .object({ version: z.int().min(1), baseVersion: z.int().min(0).optional(), message: z.string().max(1000).optional() })
  .strict()
  .openapi("RollbackRequest");

export const ApplyResult = z
  .object({
    dryRun: z.boolean(),
    fromVersion: z.number(),
    version: z.number(),
    changes: z.array(ObjectChange),
    published: z.boolean().openapi({ description: "false: stored, but not yet in KV; the control plane keeps retrying" }),
  })
  .openapi("ApplyResult");

export const ConfigBody = z
  .object({ version: z.number(), documents: Documents, sources: z.array(z.string()) })
  .openapi("Config");

export const AuditEntry = z
  .object({
    id: z.number(),
    at: z.number(),
    actor: z.string(),
    action: z.string(),
    fromVersion: z.number().nullable(),
    toVersion: z.number().nullable(),
    detail: z.unknown(),
  })
  .openapi("AuditEntry");

export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().min(1).optional(),
});

export const BackendName = z.object({ name: z.string().min(1).max(253) });

export const Registration = z
  .object({
    url: z.url({ protocol: /^https?$/ }).openapi({ example: "http://127.0.0.1:9104" }),
    weight: z.int().min(1).max(128).optional(),
    zone: z.string().max(64).optional(),
    version: z.string().max(64).optional(),
    ttlSeconds: z.int().min(1).max(86_400).default(30).openapi({ description: "dropped unless a heartbeat comes within this time" }),
  })
  .strict()
  .openapi("Registration");

export const EndpointUrl = z.object({ url: z.url({ protocol: /^https?$/ }) }).strict();

export const RegisteredEndpoint = z
  .object({
    url: z.string(),
    weight: z.number(),
    zone: z.string().optional(),
    version: z.string().optional(),
    draining: z.boolean(),
    expiresAt: z.number().optional(),
  })
  .openapi("RegisteredEndpoint");

export const HealthState = z
  .object({
    version: z.number(),
    endpoints: z.record(z.string(), z.object({ state: z.enum(["ejected", "probing"]), since: z.number(), until: z.number(), ejections: z.number() })),
  })
  .openapi("HealthState");

export const BackendView = z
  .object({
    name: z.string(),
    kind: z.enum(["worker", "http"]),
    endpoints: z.array(z.object({ id: z.string(), weight: z.number(), eligible: z.boolean(), inFlight: z.number() })),
    registered: z.array(RegisteredEndpoint).optional(),
    health: z.object({ global: HealthState.optional(), isolate: z.unknown() }).optional(),
  })
  .openapi("Backend");

export const RateLimitView = z
  .object({
    id: z.string(),
    name: z.string(),
    scope: z.enum(["local", "global"]),
    requests: z.number(),
    windowMs: z.number(),
    shards: z.number(),
    isolateLeaseCalls: z.number().optional(),
    global: z.object({ calls: z.number(), granted: z.number(), keys: z.number() }).optional(),
  })
  .openapi("RateLimit");
