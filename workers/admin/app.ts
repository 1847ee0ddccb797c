/**
 * The admin API, mounted by the gateway at /admin: the control plane's HTTP face. Every route but
 * /admin/openapi.json needs a verified caller whose role allows it (auth.ts, roles.ts): the
 * break-glass ADMIN_TOKEN or a mesh identity named by an AdminRoleBinding; with neither the API is
 * off. Requests and responses are validated by the zod schemas in schemas.ts, which also generate
 * /admin/openapi.json. The audit log records the verified caller, never a name it declares. The
 * dashboard (/admin/ui: page and scripts, which hold no data) signs in with the same credentials,
 * kept in a session cookie (ui/session.ts) that auth.ts takes in place of a header.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { timeout } from "hono/timeout";
import { formatBytes, POLICY_SET_LIMITS } from "../../common/config-limits.ts";
import { adminAuth, credentialAccepted } from "./auth.ts";
import { AdminError, problem, type AdminApp, type AdminDeps, type AdminHonoEnv } from "./context.ts";
import { backendRoutes } from "./routes/backends.ts";
import { configRoutes } from "./routes/config.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { identityRoutes } from "./routes/identity.ts";
import { observeRoutes } from "./routes/observe.ts";
import { redactedAnswer } from "./redact.ts";
import { ROUTE_ROLES, unmappedRoutes } from "./roles.ts";
import { uiRoutes } from "./ui/index.ts";
import { sessionRoutes } from "./ui/session.ts";

const ADMIN_TIMEOUT_MS = 10_000;

/** The one check of an admin credential, from the Authorization header or the dashboard's cookie. */
export function createAdminApp(deps: AdminDeps): AdminApp {
  const app: AdminApp = new OpenAPIHono<AdminHonoEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const errors = result.error.issues.map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`);
      return c.json(problem(400, "invalid_request", `invalid ${result.target}: ${errors.join("; ")}`, { errors }), 400);
    },
  }).basePath("/admin");

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "edgemesh admin API", version: "v1alpha1", description: "Configuration, registry, health, rate limits and identity of the mesh. Each operation's x-edgemesh-role is the role it needs (viewer < operator < admin)." },
    security: [{ bearer: [] }, { workloadToken: [] }],
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "ADMIN_TOKEN: the break-glass admin" });
  app.openAPIRegistry.registerComponent("securitySchemes", "workloadToken", { type: "apiKey", in: "header", name: "edgemesh-workload-token", description: "a mesh workload token; the role comes from AdminRoleBindings" });

  // A hung control plane gets a 504, not a request that never ends.
  app.use("*", timeout(ADMIN_TIMEOUT_MS, () => new HTTPException(504, { message: `the control plane did not answer within ${ADMIN_TIMEOUT_MS} ms` })));
  app.use("*", adminAuth(deps));
  // Secrets in configuration (webhook URLs) reach only admins whole (redact.ts).
  app.use("*", async (c, next) => {
    await next();
    if (c.var.caller && c.var.caller.role !== "admin") c.res = await redactedAnswer(c.res);
  });

  // Bodies over the limit stop here with 413, before anything parses them or sends them to a Durable Object.
  const limited = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => c.json(problem(413, "payload_too_large", `the request body is over ${formatBytes(maxSize)}, the limit for ${c.req.method} ${c.req.path}`), 413),
    });
  const applyLimit = limited(POLICY_SET_LIMITS.bodyBytes);
  const otherLimit = limited(POLICY_SET_LIMITS.otherBodyBytes);
  app.use("*", (c, next) => (c.req.path === "/admin/config/apply" ? applyLimit : otherLimit)(c, next));

  configRoutes(app);
  backendRoutes(app, deps);
  observeRoutes(app, deps);
  metricsRoutes(app, deps);
  alertRoutes(app);
  identityRoutes(app);
  dashboardRoutes(app, deps);
  sessionRoutes(app, credentialAccepted(deps));
  uiRoutes(app);

  // Every route has its role in roles.ts's table, and the table names no route that is gone.
  const { missing, stale } = unmappedRoutes(app.routes);
  if (missing.length || stale.length) throw new Error(`admin routes without a role in roles.ts: ${missing.join(", ") || "none"}; roles for no route: ${stale.join(", ") || "none"}`);
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const route = definition.route as typeof definition.route & Record<string, unknown>;
    route["x-edgemesh-role"] = ROUTE_ROLES[`${route.method.toUpperCase()} ${route.path}`];
  }

  app.notFound((c) => c.json(problem(404, "not_found", `no admin route ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    if (error instanceof AdminError) return c.json(problem(error.status, error.reason, error.message), error.status);
    if (error instanceof HTTPException) {
      const reason = ({ 504: "control_plane_timeout" } as Record<number, string>)[error.status] ?? "invalid_request";
      return c.json(problem(error.status, reason, error.message), error.status);
    }
    console.error(JSON.stringify({ level: "error", message: "admin API failure", error: String((error as Error)?.stack ?? error) }));
    return c.json(problem(503, "control_plane_unavailable", `the control plane did not answer: ${(error as Error).message}`), 503);
  });
  return app;
}
