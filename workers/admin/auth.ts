/**
 * Who is calling the admin API, and whether their role lets them (roles.ts). One credential per
 * request, of three kinds:
 *  - `Authorization: Bearer <ADMIN_TOKEN>`: the break-glass admin, recorded as `break-glass:ADMIN_TOKEN`
 *    (the secret says nothing about who used it; the audit log says it was the shared one);
 *  - a workload token in `edgemesh-workload-token`, verified by the isolate's own verifier, by the
 *    same rules and with the same cache as the data plane (stages/authenticate.ts);
 *  - a Worker caller's service binding to the gateway's `Mesh` entrypoint (its `ctx.props`).
 * The dashboard's session cookie (ui/session.ts) carries the admin token or a workload token, and
 * stands in for its header when the request brings none; a change made with it needs the CSRF header.
 * A mesh identity's role comes from the AdminRoleBindings of the table the isolate serves, compiled
 * once per table: no Durable Object call beyond the table's own reads. No credential, or a bad one:
 * 401. Two at once: 401 (no guessing whose request it is). A role too low: 403 `forbidden`.
 * What the caller declares about itself (the old `X-Edgemesh-Actor`) is never read.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { timingSafeEqual } from "hono/utils/buffer";
import { REFUSALS, type Refusal } from "../../common/identity/reasons.ts";
import { requestToken, WORKLOAD_TOKEN_HEADER } from "../../common/identity/request-token.ts";
import type { AdminRoleBinding } from "../../policies/schema/index.ts";
import { problem, type AdminDeps, type AdminEnv, type AdminHonoEnv } from "./context.ts";
import { credentialFromCookie, csrfRefusal, type VerifyCredential } from "./ui/session.ts";
import { allows, RoleIndex, routeKey, ROUTE_ROLES, stricter, type AdminRole, type RouteAccess } from "./roles.ts";

export const BREAK_GLASS_ACTOR = "break-glass:ADMIN_TOKEN";

export interface AdminCaller {
  /** The SPIFFE ID, or BREAK_GLASS_ACTOR: what the audit log records. */
  id: string;
  /** How it was verified: the admin token, a workload token, or a service binding. */
  via: "admin-token" | "workload-token" | "binding";
  role: AdminRole | undefined;
}

type AdminContext = Context<AdminHonoEnv>;

/** What the routes this request matched ask for; a request no route matches (a 404) needs a caller. */
function accessOf(c: AdminContext): RouteAccess {
  let access: RouteAccess | undefined;
  for (const route of matchedRoutes(c)) {
    if (route.method === "ALL") continue;
    // Every route is in the table (the app checks at start); anything else would need the top role.
    const needed = ROUTE_ROLES[routeKey(route.method, route.path)] ?? "admin";
    access = access === undefined ? needed : stricter(access, needed);
  }
  return access ?? "any";
}

const VIA: Record<AdminCaller["via"], string> = { "admin-token": "the admin token", "workload-token": "a workload token", binding: "its service binding" };

export function adminAuth({ tables, isolate }: AdminDeps): MiddlewareHandler<AdminHonoEnv> {
  // One index per table's bindings (per configuration version); it goes with the table.
  const indexes = new WeakMap<readonly AdminRoleBinding[], RoleIndex>();
  const rolesOf = async (c: AdminContext) => {
    const { adminRoleBindings } = await tables.current(c.env, c.executionCtx);
    let index = indexes.get(adminRoleBindings);
    if (!index) indexes.set(adminRoleBindings, (index = new RoleIndex(adminRoleBindings)));
    return index;
  };

  const unauthorized = (c: AdminContext, message: string, challenge: string) =>
    c.json(problem(401, "unauthorized", message), 401, { "www-authenticate": challenge });
  const refused = (c: AdminContext, reason: Refusal, message: string = REFUSALS[reason]) =>
    unauthorized(c, `${reason}: ${message}`, `Edgemesh-Workload-Token error="${reason}"`);

  return async function adminAuth(c, next) {
    const access = accessOf(c);
    if (access === "public") return next();
    const { env } = c;
    const adminToken = env.ADMIN_TOKEN || undefined;
    // The table only when a role is needed: a break-glass call reads nothing it did not before.
    if (!adminToken && (await rolesOf(c)).size === 0) {
      return c.json(problem(503, "admin_disabled", "the admin API is off: set the ADMIN_TOKEN secret (wrangler secret put ADMIN_TOKEN), or deploy policies with an AdminRoleBinding"), 503);
    }

    let authorization = c.req.header("authorization");
    const sent = requestToken(c.req.raw.headers, new URL(c.req.url).search);
    if (!sent.ok) return refused(c, sent.reason);
    const binding = isolate.identity.bindingIdentity(env, (c.executionCtx as ExecutionContext & { props?: unknown }).props);
    if (binding === "invalid") return refused(c, "invalid_binding_identity");
    let workloadToken = sent.token;
    // The dashboard's session: its cookie holds a credential of the first two kinds, used as if sent in its header.
    const fromCookie = authorization === undefined && workloadToken === undefined && binding === undefined ? credentialFromCookie(c) : undefined;
    if (fromCookie !== undefined) {
      const csrf = csrfRefusal(c);
      if (csrf) return csrf;
      if (looksLikeJwt(fromCookie)) workloadToken = fromCookie;
      else authorization = `Bearer ${fromCookie}`;
    }
    if ((authorization !== undefined ? 1 : 0) + (workloadToken !== undefined ? 1 : 0) + (binding !== undefined ? 1 : 0) > 1) {
      return refused(c, "multiple_identities", "send one credential: the admin token, a workload token, or none over a service binding that names the caller");
    }

    let caller: AdminCaller;
    if (authorization !== undefined) {
      const token = /^Bearer +(\S+)$/i.exec(authorization)?.[1];
      if (!adminToken || !token || !(await timingSafeEqual(token, adminToken))) {
        return unauthorized(c, "missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)", 'Bearer realm="edgemesh admin"');
      }
      caller = { id: BREAK_GLASS_ACTOR, via: "admin-token", role: "admin" };
    } else if (workloadToken !== undefined) {
      const result = await verifyWorkloadToken(isolate, env, workloadToken);
      if (!result.ok) return refused(c, result.reason, result.message);
      caller = { id: result.token.subject.id, via: "workload-token", role: (await rolesOf(c)).roleOf(result.token.subject.id) };
    } else if (binding !== undefined) {
      caller = { id: binding, via: "binding", role: (await rolesOf(c)).roleOf(binding) };
    } else {
      return unauthorized(
        c,
        `no credential: send Authorization: Bearer <ADMIN_TOKEN>, or a mesh identity (a workload token in ${WORKLOAD_TOKEN_HEADER}, or a call over a service binding to the gateway's Mesh entrypoint)`,
        'Bearer realm="edgemesh admin"',
      );
    }

    if (!allows(caller.role, access)) {
      const has = caller.role ? `has the ${caller.role} role` : "has no role (no AdminRoleBinding names it)";
      const message = `${c.req.method} ${c.req.path} needs the ${access} role; ${caller.id} (verified by ${VIA[caller.via]}) ${has}`;
      return c.json(problem(403, "forbidden", message, { requiredRole: access, identity: caller.id, ...(caller.role && { role: caller.role }) }), 403);
    }
    c.set("caller", caller);
    c.set("actor", caller.id);
    await next();
  };
}

/** As the gateway verifies a caller's token (the isolate's verifier and its cache, shared with the data plane). */
const verifyWorkloadToken = (isolate: AdminDeps["isolate"], env: AdminEnv, token: string) => isolate.identity.verifierFor(env).verify(token);

/** A compact JWS has three base64url parts; the admin token is any other string. */
const looksLikeJwt = (credential: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential);

/**
 * Whether a credential would authenticate an admin request (the dashboard's sign-in): the admin
 * token, or a workload token the gateway verifies. Which role it has is checked per request.
 */
export function credentialAccepted({ isolate }: AdminDeps): VerifyCredential {
  return async (env: AdminEnv, credential: string) => {
    if (looksLikeJwt(credential)) return (await verifyWorkloadToken(isolate, env, credential)).ok;
    return Boolean(env.ADMIN_TOKEN) && (await timingSafeEqual(credential, env.ADMIN_TOKEN!));
  };
}
