/** The admin API's request and response shapes: validated at the edge and the source of /admin/openapi.json. */
import { z } from "@hono/zod-openapi";
import { formatBytes, POLICY_SET_LIMITS } from "../../common/config-limits.ts";
import { checkEndpointUrl } from "../../policies/endpoint-url.ts";

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
      requiredRole: z.string().optional().openapi({ description: "403 forbidden: the role the route needs" }),
      identity: z.string().optional().openapi({ description: "403 forbidden: the verified identity that called" }),
      role: z.string().optional().openapi({ description: "403 forbidden: the role that identity has, if any" }),
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

const { bodyBytes, documents: maxDocuments, documentBytes, otherBodyBytes } = POLICY_SET_LIMITS;
// No .max here: more than the limit is 413 payload_too_large from the store's size check (as the
// description says), not a schema's 400.
const Documents = z
  .array(z.unknown())
  .openapi({ description: `policy documents (see policies/edgemesh.schema.json): at most ${maxDocuments} (more: 413), each at most ${formatBytes(documentBytes)} as JSON` });
const AllowEmpty = z.boolean().optional().openapi({ description: "an empty set removes every route and backend: refused (400 empty_policy_set) unless this is true" });

export const ApplyBody = z
  .object({
    documents: Documents,
    sources: z.array(z.string().max(256)).max(maxDocuments).optional().openapi({ description: "file of each document, for error messages" }),
    baseVersion: z.int().min(0).optional().openapi({ description: "409 unless this is still the current version" }),
    dryRun: z.boolean().optional(),
    allowEmpty: AllowEmpty,
    message: z.string().max(1000).optional(),
  })
  .strict()
  .openapi("ApplyRequest", { description: `The whole body is at most ${formatBytes(bodyBytes)}: larger ones get 413 payload_too_large.` });

export const RollbackBody = z
  .object({ version: z.int().min(1), baseVersion: z.int().min(0).optional(), allowEmpty: AllowEmpty, message: z.string().max(1000).optional() })
  .strict()
  .openapi("RollbackRequest", { description: `Like every admin request body but apply's, at most ${formatBytes(otherBodyBytes)}.` });

export const ApplyResult = z
  .object({
    dryRun: z.boolean(),
    warnings: z.array(z.string()).openapi({ description: "what validation noted without refusing the set (e.g. a route that attaches to no listener), one line each as `npm run validate` prints it" }),
    unchanged: z.boolean().openapi({ description: "true: the documents equal the current version's; no version was made and nothing was audited (version is the current one)" }),
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
export const NamespacedBackendName = z.object({ namespace: z.string().min(1).max(63), name: z.string().min(1).max(253) });

/** The same address checks as a Backend's static endpoints (policies/endpoint-url.ts). */
const EndpointOrigin = z
  .string()
  .max(2048)
  .superRefine((url, ctx) => {
    const checked = checkEndpointUrl(url);
    if (!checked.ok) ctx.addIssue({ code: "custom", message: checked.message });
  });

export const Registration = z
  .object({
    url: EndpointOrigin.openapi({
      example: "http://127.0.0.1:9104",
      description: "an origin (no credentials, path, query or fragment), not a metadata, link-local, unspecified or multicast address, and one the Backend's spec.registration allows (403 registration_not_allowed otherwise)",
    }),
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

export const WhoAmI = z
  .object({
    identity: z.string().openapi({ description: "the verified caller: a SPIFFE ID, or break-glass:ADMIN_TOKEN" }),
    via: z.enum(["admin-token", "workload-token", "binding"]).openapi({ description: "how it was verified" }),
    role: z.enum(["viewer", "operator", "admin"]).nullable().openapi({ description: "its role (null: no AdminRoleBinding names it)" }),
  })
  .openapi("WhoAmI");

export const SigningKey = z
  .object({
    kid: z.string(),
    alg: z.string(),
    state: z.enum(["published", "signing", "retired"]).openapi({ description: "published: in the bundle, signing from activatesAt; signing: the key that signs now; retired: published until publishedUntil" }),
    pinned: z.boolean().openapi({ description: "pinned by MESH_ISSUER_KEY: rotate and revoke refuse it" }),
    createdAt: z.number().openapi({ description: "published since (epoch ms)" }),
    activatesAt: z.number().openapi({ description: "signs from (epoch ms)" }),
    retiredAt: z.number().nullable(),
    publishedUntil: z.number().nullable(),
  })
  .openapi("SigningKey", { description: "A signing key's public facts; private parts never leave the Issuer." });

export const KeyList = z.object({ keys: z.array(SigningKey) }).openapi("SigningKeys");

export const Kid = z.object({ kid: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { error: "must be a key id: letters, digits, '-', '_' (at most 128)" }) });

const SpiffeIdText = z.string().max(2048).openapi({ example: "spiffe://edgemesh.local/ns/default/sa/reviews" });

export const CredentialRequest = z.object({ spiffeId: SpiffeIdText }).strict().openapi("CredentialRequest");

export const CredentialCreated = z
  .object({
    spiffeId: z.string(),
    credential: z.string().openapi({ description: "the secret (256 random bits, base64url): shown this once; the mesh keeps only its SHA-256" }),
    createdAt: z.number(),
  })
  .openapi("CredentialCreated");

export const CredentialList = z
  .object({
    credentials: z.array(
      z.object({
        spiffeId: z.string(),
        source: z.enum(["stored", "secret"]).openapi({ description: "stored: made through this API; secret: in MESH_WORKLOAD_CREDENTIALS (change it there)" }),
        createdAt: z.number().nullable(),
      }),
    ),
  })
  .openapi("Credentials");

export const CredentialPath = z.object({ spiffeId: SpiffeIdText });
