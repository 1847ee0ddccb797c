/**
 * The admin API, mounted by the gateway at /admin: the control plane's HTTP face. Every route needs
 * `Authorization: Bearer <ADMIN_TOKEN>` (a wrangler secret), or the dashboard's session cookie standing
 * in for it (ui/session.ts); without that secret the API is off. The dashboard's page and scripts
 * (/admin/ui) hold no data and need none.
 * Requests and responses are validated by the zod schemas in schemas.ts, which also generate
 * /admin/openapi.json. `X-Edgemesh-Actor` names who makes a change, for the audit log.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { timeout } from "hono/timeout";
import { timingSafeEqual } from "hono/utils/buffer";
import { formatBytes, POLICY_SET_LIMITS } from "../../common/config-limits.ts";
import { AdminError, problem, type AdminApp, type AdminDeps, type AdminEnv, type AdminHonoEnv } from "./context.ts";
import { backendRoutes } from "./routes/backends.ts";
import { configRoutes } from "./routes/config.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { observeRoutes } from "./routes/observe.ts";
import { isUiAssetPath, uiRoutes } from "./ui/index.ts";
import { credentialFromCookie, csrfRefusal, isSessionPath, sessionRoutes } from "./ui/session.ts";

const ADMIN_TIMEOUT_MS = 10_000;

/** The one check of an admin credential, from the Authorization header or the dashboard's cookie. */
async function adminCredentialOk(env: AdminEnv, token: string): Promise<boolean> {
  const expected = env.ADMIN_TOKEN;
  if (!expected) throw new HTTPException(503, { message: "the admin API is off: set the ADMIN_TOKEN secret (wrangler secret put ADMIN_TOKEN)" });
  return timingSafeEqual(token, expected);
}

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
    info: { title: "edgemesh admin API", version: "v1alpha1", description: "Configuration, registry, health and rate limits of the mesh." },
    security: [{ bearer: [] }],
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  // A hung control plane gets a 504, not a request that never ends.
  app.use("*", timeout(ADMIN_TIMEOUT_MS, () => new HTTPException(504, { message: `the control plane did not answer within ${ADMIN_TIMEOUT_MS} ms` })));
  app.use("*", async (c, next) => {
    if (c.req.path === "/admin/openapi.json" || isUiAssetPath(c.req.path) || isSessionPath(c.req.path)) return next();
    // The dashboard's session cookie stands in for the Authorization header (ui/session.ts).
    const fromCookie = credentialFromCookie(c);
    if (fromCookie !== undefined) {
      const refused = csrfRefusal(c);
      if (refused) return refused;
      if (!(await adminCredentialOk(c.env, fromCookie))) throw new HTTPException(401);
      return next();
    }
    // Hono types a middleware for its own Env; this one is for any.
    return bearerAuth({ verifyToken: (token) => adminCredentialOk(c.env, token) })(c as never, next);
  });
  app.use(
    "*",
    createMiddleware<AdminHonoEnv>(async (c, next) => {
      const declared = c.req.header("x-edgemesh-actor")?.slice(0, 128).replace(/[^\w@.\-]/g, "");
      c.set("actor", `${declared || "admin"} (admin token)`);
      await next();
    }),
  );

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
  dashboardRoutes(app, deps);
  sessionRoutes(app, adminCredentialOk);
  uiRoutes(app);

  app.notFound((c) => c.json(problem(404, "not_found", `no admin route ${c.req.method} ${c.req.path}`), 404));
  app.onError((error, c) => {
    if (error instanceof AdminError) return c.json(problem(error.status, error.reason, error.message), error.status);
    if (error instanceof HTTPException) {
      const reason = ({ 401: "unauthorized", 503: "admin_disabled", 504: "control_plane_timeout" } as Record<number, string>)[error.status] ?? "invalid_request";
      const message = error.status === 401 ? "missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)" : error.message;
      return c.json(problem(error.status, reason, message), error.status);
    }
    console.error(JSON.stringify({ level: "error", message: "admin API failure", error: String((error as Error)?.stack ?? error) }));
    return c.json(problem(503, "control_plane_unavailable", `the control plane did not answer: ${(error as Error).message}`), 503);
  });
  return app;
}
