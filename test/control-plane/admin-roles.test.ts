/**
 * Admin access by mesh identity and role: AdminRoleBindings give viewer / operator / admin to SPIFFE
 * IDs, callers prove theirs with a workload token or their service binding, the break-glass
 * ADMIN_TOKEN stays, and the audit log records the verified caller, never a name it declares. Every
 * route has a role, and the API enforces the one the OpenAPI document shows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { makeKey, TRUST_DOMAIN, validToken, type TestKey } from "../support/tokens.ts";

const HEADER = "edgemesh-workload-token";
const id = (namespace: string, service: string) => `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${service}`;
const VIEWER = id("default", "dashboard");
const OPERATOR = id("ops", "console");
const ADMIN = id("platform", "deployer");
const NOBODY = id("default", "reviews");
const nowS = () => Math.floor(Date.now() / 1000);

const binding = (name: string, role: string, subjects: object[]) => ({ apiVersion: "edgemesh.dev/v1alpha1", kind: "AdminRoleBinding", metadata: { name }, spec: { role, subjects } });
const BINDINGS = [
  binding("dashboards", "viewer", [{ principal: VIEWER }]),
  binding("ops", "operator", [{ principalPrefix: `spiffe://${TRUST_DOMAIN}/ns/ops/` }]),
  binding("deployers", "admin", [{ principal: ADMIN }, { principal: "spiffe://other.test/ns/default/sa/reviews" }]),
];
const documents = (target = "a") => [backend("a", ["http://127.0.0.1:9"]), backend("b", ["http://127.0.0.1:10"]), simpleRoute("app", "app.test", target), ...BINDINGS];

let key: TestKey;
let mesh: TestGateway;
const tokenFor = (sub: string, overrides: Record<string, unknown> = {}) => validToken(key, nowS(), { sub, jti: crypto.randomUUID(), ...overrides });

type Answer<T = Record<string, unknown>> = { status: number; headers: Headers; body: T };
async function admin<T = { error: { reason: string; message: string; requiredRole?: string; identity?: string } }>(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  gateway = mesh,
): Promise<Answer<T>> {
  const response = await gateway.fetch(`http://admin.test/admin${path}`, { method, headers: { "content-type": "application/json", ...headers }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}
const withToken = async (sub: string) => ({ [HEADER]: await tokenFor(sub) });
const viaBinding = async <T = { error: { reason: string; message: string } }>(caller: string, method: string, path: string, body?: unknown): Promise<Answer<T>> => {
  const response = await mesh.fetchAs(caller, `http://admin.test/admin${path}`, { method, headers: { "content-type": "application/json" }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
};
type AuditEntries = { entries: { actor: string; action: string; toVersion: number | null; detail: Record<string, unknown> }[] };

beforeAll(async () => {
  key = await makeKey();
  mesh = await TestGateway.start(documents(), {
    isolates: 1,
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk) },
    callers: [
      { name: "console", props: { service: "console", namespace: "ops" } },
      { name: "reviews", props: { service: "reviews" } },
      { name: "bad-props", props: { service: "not a service" } },
    ],
  });
});
afterAll(() => mesh?.dispose());

describe("roles", () => {
  it("a viewer reads, and gets 403 naming the role and the identity when it applies", async () => {
    expect((await admin("GET", "/config", await withToken(VIEWER))).status).toBe(200);
    const whoami = await admin("GET", "/whoami", await withToken(VIEWER));
    expect(whoami.body).toEqual({ identity: VIEWER, via: "workload-token", role: "viewer" });
    const apply = await admin("POST", "/config/apply", await withToken(VIEWER), { documents: documents("b") });
    expect(apply.status).toBe(403);
    expect(apply.body.error).toMatchObject({ reason: "forbidden", requiredRole: "admin", identity: VIEWER });
    expect(apply.body.error.message).toBe(`POST /admin/config/apply needs the admin role; ${VIEWER} (verified by a workload token) has the viewer role`);
  });

  it("an operator over its service binding registers and drains (audited as itself), but cannot apply", async () => {
    expect((await viaBinding("console", "GET", "/whoami")).body).toEqual({ identity: OPERATOR, via: "binding", role: "operator" });
    const registered = await viaBinding("console", "POST", "/backends/a/endpoints", { url: "http://127.0.0.1:19", ttlSeconds: 60 });
    expect(registered.status).toBe(201);
    expect((await viaBinding("console", "POST", "/backends/a/endpoints/drain", { url: "http://127.0.0.1:19" })).status).toBe(200);
    expect((await viaBinding("console", "DELETE", "/backends/a/endpoints?url=http://127.0.0.1:19")).status).toBe(200);
    const apply = await viaBinding("console", "POST", "/config/apply", { documents: documents("b") });
    expect(apply.status).toBe(403);
    expect(apply.body.error.message).toContain(`${OPERATOR} (verified by its service binding) has the operator role`);
    const { entries } = (await admin<AuditEntries>("GET", "/audit?limit=10", await withToken(VIEWER))).body;
    expect(entries.slice(0, 3).map((entry) => [entry.action, entry.actor, entry.detail.backend, entry.detail.url])).toEqual([
      ["deregister", OPERATOR, "a", "http://127.0.0.1:19"],
      ["drain", OPERATOR, "a", "http://127.0.0.1:19"],
      ["register", OPERATOR, "a", "http://127.0.0.1:19"],
    ]);
  });

  it("an admin by workload token applies; the audit log names its SPIFFE ID, not the X-Edgemesh-Actor it sent", async () => {
    const applied = await admin<{ version: number }>("POST", "/config/apply", { ...(await withToken(ADMIN)), "x-edgemesh-actor": "mallory" }, { documents: documents("b"), message: "to b" });
    expect(applied.status).toBe(200);
    const { entries } = (await admin<AuditEntries>("GET", "/audit?limit=50", await withToken(ADMIN))).body;
    const entry = entries.find((e) => e.toVersion === applied.body.version)!;
    expect(entry).toMatchObject({ action: "apply", actor: ADMIN });
    expect(JSON.stringify(entries)).not.toContain("mallory");
    const versions = (await admin<{ versions: { version: number; actor: string }[] }>("GET", "/config/versions?limit=1", await withToken(ADMIN))).body.versions;
    expect(versions[0]).toMatchObject({ version: applied.body.version, actor: ADMIN });
  });

  it("shows webhook URLs (credentials in practice) whole to admins only: a viewer reads their origin", async () => {
    const hook = "https://hooks.example.com/services/T000/B000/secret-part";
    const slo = { apiVersion: "edgemesh.dev/v1alpha1", kind: "ServiceLevelObjective", metadata: { name: "a-availability" }, spec: { backend: "a", objective: { type: "Availability", target: 99 }, window: "28d", notify: { webhook: hook } } };
    const applied = await admin<{ version: number }>("POST", "/config/apply", await withToken(ADMIN), { documents: [...documents("a"), slo] });
    expect(applied.status).toBe(200);
    const webhookIn = (body: unknown) => JSON.stringify(body).match(/"webhook":"([^"]*)"/)?.[1];
    expect(webhookIn((await admin("GET", "/config", await withToken(ADMIN))).body)).toBe(hook);
    const asViewer = await admin("GET", "/config", await withToken(VIEWER));
    expect(asViewer.status).toBe(200);
    expect(webhookIn(asViewer.body)).toBe("https://hooks.example.com/<redacted>");
    expect(JSON.stringify((await admin("GET", `/config/versions/${applied.body.version}`, await withToken(VIEWER))).body)).not.toContain("secret-part");
    // A diff names the field and its values: redacted too, however the change is shaped.
    const diff = await admin("GET", `/config/diff?from=${applied.body.version - 1}&to=${applied.body.version}`, await withToken(VIEWER));
    expect(diff.status).toBe(200);
    expect(JSON.stringify(diff.body)).not.toContain("secret-part");
    expect(JSON.stringify((await admin("GET", "/audit?limit=50", await withToken(OPERATOR))).body)).not.toContain("secret-part");
  });

  it("the break-glass token is an admin, recorded as such", async () => {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "x-edgemesh-actor": "alice" };
    expect((await admin("GET", "/whoami", headers)).body).toEqual({ identity: "break-glass:ADMIN_TOKEN", via: "admin-token", role: "admin" });
    const rolled = await admin<{ version: number }>("POST", "/config/rollback", headers, { version: 1 });
    expect(rolled.status).toBe(200);
    const { entries } = (await admin<AuditEntries>("GET", "/audit?limit=1", headers)).body;
    expect(entries[0]).toMatchObject({ action: "rollback", actor: "break-glass:ADMIN_TOKEN", toVersion: rolled.body.version });
  });

  it("an identity no binding names is authenticated, with no role: whoami answers, the rest is 403", async () => {
    expect((await admin("GET", "/whoami", await withToken(NOBODY))).body).toEqual({ identity: NOBODY, via: "workload-token", role: null });
    const refused = await viaBinding("reviews", "GET", "/status");
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe(`GET /admin/status needs the viewer role; ${NOBODY} (verified by its service binding) has no role (no AdminRoleBinding names it)`);
  });
});

describe("authentication", () => {
  const reasonOf = async (headers: Record<string, string>) => {
    const answer = await admin("GET", "/config", headers);
    return { status: answer.status, reason: answer.body.error?.reason, code: answer.body.error?.message.split(":")[0], challenge: answer.headers.get("www-authenticate") };
  };

  it("refuses a token with the wrong audience, an expired one, and one from another trust domain: 401", async () => {
    expect(await reasonOf({ [HEADER]: await tokenFor(ADMIN, { aud: id("default", "details") }) })).toMatchObject({ status: 401, reason: "unauthorized", code: "wrong_audience" });
    expect(await reasonOf({ [HEADER]: await validToken(key, nowS() - 1000, { sub: ADMIN }) })).toMatchObject({ status: 401, code: "expired", challenge: 'Edgemesh-Workload-Token error="expired"' });
    // A binding names spiffe://other.test/...: a token for it fails verification before any role is looked at.
    const foreign = { iss: "spiffe://other.test", sub: "spiffe://other.test/ns/default/sa/reviews" };
    expect(await reasonOf({ [HEADER]: await tokenFor(ADMIN, foreign) })).toMatchObject({ status: 401, code: "wrong_issuer" });
    expect(await reasonOf({ [HEADER]: await tokenFor("spiffe://other.test/ns/default/sa/reviews") })).toMatchObject({ status: 401, code: "invalid_subject" });
  });

  it("no credential, a wrong admin token, two credentials, a token in the query: 401", async () => {
    const none = await admin("GET", "/config", {});
    expect(none).toMatchObject({ status: 401, body: { error: { reason: "unauthorized" } } });
    expect(none.body.error.message).toContain("no credential");
    expect((await reasonOf({ authorization: "Bearer wrong" })).status).toBe(401);
    expect(await reasonOf({ authorization: `Bearer ${ADMIN_TOKEN}`, [HEADER]: await tokenFor(ADMIN) })).toMatchObject({ status: 401, code: "multiple_identities" });
    const query = await admin("GET", `/config?access_token=${await tokenFor(ADMIN)}`, {});
    expect(query.body.error.message).toMatch(/^token_in_query:/);
  });

  it("a binding whose props make no SPIFFE ID is refused, not taken as anonymous", async () => {
    const answer = await viaBinding("bad-props", "GET", "/whoami");
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toMatch(/^invalid_binding_identity:/);
  });

  it("a caller over a binding that also sends a token is refused: two identities", async () => {
    const response = await mesh.fetchAs("console", "http://admin.test/admin/whoami", { headers: { [HEADER]: await tokenFor(ADMIN) } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/^multiple_identities:/);
  });
});

describe("every route has a role", () => {
  type Operation = { "x-edgemesh-role"?: string };
  const below: Record<string, string | undefined> = { viewer: NOBODY, operator: VIEWER, admin: OPERATOR };
  const sample = (path: string) => path.replace("{name}", "a").replace("{version}", "1").replace("{kid}", "k1").replace("{spiffeId}", id("default", "x"));

  it("the OpenAPI document gives each operation its role, and the API refuses the role below it", async () => {
    const doc = (await (await mesh.fetch("http://admin.test/admin/openapi.json")).json()) as { paths: Record<string, Record<string, Operation>> };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, role: operation["x-edgemesh-role"] })));
    expect(operations.length).toBeGreaterThanOrEqual(22);
    const roles = Object.fromEntries(operations.map((op) => [`${op.method} ${op.path}`, op.role]));
    expect(roles).toMatchObject({ "GET /admin/whoami": "any", "GET /admin/config": "viewer", "POST /admin/backends/{name}/endpoints": "operator", "POST /admin/config/apply": "admin", "DELETE /admin/identity/credentials/{spiffeId}": "admin" });
    for (const operation of operations) {
      expect({ operation, known: ["any", "viewer", "operator", "admin"].includes(operation.role!) }).toEqual({ operation, known: true });
      if (operation.role === "any") continue;
      const answer = await admin(operation.method, sample(operation.path.replace(/^\/admin/, "")), await withToken(below[operation.role!]!), operation.method === "GET" || operation.method === "DELETE" ? undefined : {});
      expect({ operation, status: answer.status, required: answer.body.error?.requiredRole }).toEqual({ operation, status: 403, required: operation.role });
    }
  });

  it("openapi.json needs no credential; whoami needs one", async () => {
    expect((await mesh.fetch("http://admin.test/admin/openapi.json")).status).toBe(200);
    expect((await admin("GET", "/whoami", {})).status).toBe(401);
  });
});

describe("when the admin API is on", () => {
  it("with AdminRoleBindings and no ADMIN_TOKEN: mesh identities get in, a bearer token does not", async () => {
    const bound = await TestGateway.start(documents(), { vars: { ADMIN_TOKEN: "", MESH_TRUST_DOMAIN: TRUST_DOMAIN, MESH_ISSUER_KEY: JSON.stringify(key.privateJwk) } });
    try {
      expect((await admin("GET", "/whoami", await withToken(VIEWER), undefined, bound)).body).toMatchObject({ identity: VIEWER, role: "viewer" });
      expect((await admin("GET", "/whoami", { authorization: "Bearer " }, undefined, bound)).status).toBe(401);
      expect((await admin("GET", "/whoami", { authorization: `Bearer ${ADMIN_TOKEN}` }, undefined, bound)).status).toBe(401);
    } finally {
      await bound.dispose();
    }
  });

  it("with neither: 503, saying how to turn it on", async () => {
    const off = await TestGateway.start([backend("a", ["http://127.0.0.1:9"]), simpleRoute("app", "app.test", "a")], { vars: { ADMIN_TOKEN: "" } });
    try {
      const answer = await admin("GET", "/status", { authorization: `Bearer ${ADMIN_TOKEN}` }, undefined, off);
      expect(answer).toMatchObject({ status: 503, body: { error: { reason: "admin_disabled" } } });
      expect(answer.body.error.message).toContain("AdminRoleBinding");
    } finally {
      await off.dispose();
    }
  });
});
