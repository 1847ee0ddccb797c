/** The admin API's role table and role checks (workers/admin/roles.ts), without workerd. */
import { describe, expect, it } from "vitest";
import { allows, RoleIndex, routeKey, ROUTE_ROLES, unmappedRoutes } from "../../workers/admin/roles.ts";
import type { AdminRoleBinding } from "../../policies/schema/index.ts";

const routes = Object.keys(ROUTE_ROLES).map((key) => {
  const [method, path] = key.split(" ") as [string, string];
  return { method, path: `/admin${path.replace(/\{(\w+)\}/g, ":$1")}` };
});

describe("the route table", () => {
  it("names routes as Hono registers them, regex parameters too", () => {
    expect(routeKey("DELETE", "/admin/identity/credentials/:spiffeId{.+}")).toBe("DELETE /identity/credentials/{spiffeId}");
    expect(routeKey("GET", "/admin/backends/:name")).toBe("GET /backends/{name}");
  });

  it("finds a route without a role, and a role without a route", () => {
    expect(unmappedRoutes([...routes, { method: "ALL", path: "/admin/*" }])).toEqual({ missing: [], stale: [] });
    expect(unmappedRoutes([...routes, { method: "POST", path: "/admin/ratelimits/:id/reset" }]).missing).toEqual(["POST /ratelimits/{id}/reset"]);
    expect(unmappedRoutes(routes.slice(1)).stale).toEqual([Object.keys(ROUTE_ROLES)[0]]);
  });
});

describe("roles", () => {
  it("nest: viewer < operator < admin; no role gets only what any caller gets", () => {
    const table = (role: Parameters<typeof allows>[0]) => (["any", "viewer", "operator", "admin"] as const).map((access) => allows(role, access));
    expect(table(undefined)).toEqual([true, false, false, false]);
    expect(table("viewer")).toEqual([true, true, false, false]);
    expect(table("operator")).toEqual([true, true, true, false]);
    expect(table("admin")).toEqual([true, true, true, true]);
  });

  it("a caller gets the highest role any binding gives it; a prefix covers only what is under it", () => {
    const binding = (role: "viewer" | "operator" | "admin", subjects: AdminRoleBinding["spec"]["subjects"]): AdminRoleBinding => ({
      apiVersion: "edgemesh.dev/v1alpha1",
      kind: "AdminRoleBinding",
      metadata: { name: role, namespace: "default" },
      spec: { role, subjects },
    });
    const index = new RoleIndex([
      binding("admin", [{ principal: "spiffe://td/ns/ops/sa/lead" }]),
      binding("viewer", [{ principalPrefix: "spiffe://td/" }]),
      binding("operator", [{ principalPrefix: "spiffe://td/ns/ops/" }]),
    ]);
    expect(index.roleOf("spiffe://td/ns/ops/sa/lead")).toBe("admin");
    expect(index.roleOf("spiffe://td/ns/ops/sa/console")).toBe("operator");
    expect(index.roleOf("spiffe://td/ns/ops-evil/sa/x")).toBe("viewer");
    expect(index.roleOf("spiffe://other/ns/ops/sa/lead")).toBeUndefined();
  });
});
