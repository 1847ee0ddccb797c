/**
 * Who may call which admin route, after Kubernetes RBAC: three roles that nest (viewer < operator <
 * admin), given to mesh identities by AdminRoleBinding documents, and one table naming the role each
 * route needs. The table is the only place a route's role is said: the app refuses to start with a
 * route it does not name (or a name with no route), and the OpenAPI document shows each route's role
 * (`x-edgemesh-role`), which a test checks against what the API enforces.
 */
import type { AdminRole, AdminRoleBinding } from "../../policies/schema/index.ts";

export type { AdminRole };

/** "any": every authenticated caller, with a role or without; "public": no credential at all. */
export type RouteAccess = AdminRole | "any" | "public";

const RANK: Record<AdminRole, number> = { viewer: 1, operator: 2, admin: 3 };

/**
 * Every admin route ("METHOD path", the path as in the OpenAPI document, under /admin) and its role.
 * viewer: reads. operator: the service registry (register, heartbeat, drain, deregister); rate limits
 * have no operations yet. admin: configuration changes, signing keys, credentials.
 */
export const ROUTE_ROLES: Readonly<Record<string, RouteAccess>> = {
  "GET /openapi.json": "public",
  "GET /whoami": "any",
  "GET /status": "viewer",
  "GET /config": "viewer",
  "GET /config/versions": "viewer",
  "GET /config/versions/{version}": "viewer",
  "GET /config/diff": "viewer",
  "POST /config/apply": "admin",
  "POST /config/rollback": "admin",
  "GET /audit": "viewer",
  "GET /backends": "viewer",
  "GET /backends/{name}": "viewer",
  "POST /backends/{name}/endpoints": "operator",
  "POST /backends/{name}/endpoints/heartbeat": "operator",
  "POST /backends/{name}/endpoints/drain": "operator",
  "DELETE /backends/{name}/endpoints": "operator",
  "GET /backends/{namespace}/{name}": "viewer",
  "POST /backends/{namespace}/{name}/endpoints": "operator",
  "POST /backends/{namespace}/{name}/endpoints/heartbeat": "operator",
  "POST /backends/{namespace}/{name}/endpoints/drain": "operator",
  "DELETE /backends/{namespace}/{name}/endpoints": "operator",
  "GET /ratelimits": "viewer",
  "GET /identity/keys": "viewer",
  "POST /identity/keys/rotate": "admin",
  "POST /identity/keys/{kid}/revoke": "admin",
  "GET /identity/credentials": "viewer",
  "POST /identity/credentials": "admin",
  "DELETE /identity/credentials/{spiffeId}": "admin",
  "GET /metrics": "viewer",
  "GET /graph": "viewer",
  "GET /traces/stats": "viewer",
  "GET /slos": "viewer",
  "GET /alerts": "viewer",
  "GET /alerts/rules": "viewer",
  "GET /metrics/series": "viewer",
  "GET /metrics/services": "viewer",
  "GET /requests/recent": "viewer",
  // The dashboard's page and scripts hold no data; its sign-in checks the credential it is given.
  "GET /ui": "public",
  "GET /ui/app.css": "public",
  "GET /ui/app.js": "public",
  "GET /ui/graph.js": "public",
  "GET /ui/views.js": "public",
  "GET /ui/icon.svg": "public",
  "GET /ui/session": "public",
  "POST /ui/session": "public",
  "DELETE /ui/session": "public",
};

/** A Hono route path ("/admin/backends/:name", "/admin/x/:id{.+}") as the table names it ("/backends/{name}"). */
export const routeKey = (method: string, honoPath: string) => `${method} ${honoPath.replace(/^\/admin/, "").replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`;

/** The table's entries without a route and the routes without an entry; both must be empty. */
export function unmappedRoutes(routes: readonly { method: string; path: string }[]): { missing: string[]; stale: string[] } {
  const keys = new Set(routes.filter((route) => route.method !== "ALL").map((route) => routeKey(route.method, route.path)));
  return { missing: [...keys].filter((key) => !(key in ROUTE_ROLES)), stale: Object.keys(ROUTE_ROLES).filter((key) => !keys.has(key)) };
}

/** Whether `role` (undefined: none) grants what `access` asks. */
export function allows(role: AdminRole | undefined, access: RouteAccess): boolean {
  if (access === "public" || access === "any") return true;
  return role !== undefined && RANK[role] >= RANK[access];
}

/** The stricter of two requirements (a request matched by two routes needs both). */
export function stricter(a: RouteAccess, b: RouteAccess): RouteAccess {
  const rank = (access: RouteAccess) => (access === "public" ? -1 : access === "any" ? 0 : RANK[access]);
  return rank(a) >= rank(b) ? a : b;
}

/** One version's bindings, compiled for lookups: exact principals in a Map, prefixes in a list. */
export class RoleIndex {
  private readonly exact = new Map<string, AdminRole>();
  private readonly prefixes: { prefix: string; role: AdminRole }[] = [];
  readonly size: number;

  constructor(bindings: readonly AdminRoleBinding[]) {
    this.size = bindings.length;
    for (const binding of bindings) {
      const { role } = binding.spec;
      for (const subject of binding.spec.subjects) {
        if (subject.principal !== undefined) this.exact.set(subject.principal, higher(this.exact.get(subject.principal), role));
        else if (subject.principalPrefix !== undefined) this.prefixes.push({ prefix: subject.principalPrefix, role });
      }
    }
  }

  /** The highest role any binding gives this (verified) SPIFFE ID, or undefined. */
  roleOf(id: string): AdminRole | undefined {
    let role = this.exact.get(id);
    for (const entry of this.prefixes) if (id.startsWith(entry.prefix)) role = higher(role, entry.role);
    return role;
  }
}

const higher = (a: AdminRole | undefined, b: AdminRole): AdminRole => (a !== undefined && RANK[a] >= RANK[b] ? a : b);
