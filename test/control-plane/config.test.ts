/** Versioned configuration through the admin API: apply, validation, conflicts, history, diff, rollback, audit. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute, trafficPolicy } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

let a: Upstream;
let b: Upstream;
let mesh: TestGateway;

const routeTo = (name: string) => simpleRoute("app", "app.test", name);
const documentsFor = (target: string) => [backend("a", [a.url]), backend("b", [b.url]), routeTo(target)];

/** Which upstream answers on every isolate, once each has polled the new version. */
async function servedEverywhereBy(server: string, isolates = 3) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const seen = await Promise.all(
      Array.from({ length: isolates }, async (_, isolate) => ((await (await mesh.fetch("http://app.test/", {}, isolate)).json()) as Echo).server),
    );
    if (seen.every((s) => s === server)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

beforeAll(async () => {
  a = await Upstream.start("a");
  b = await Upstream.start("b");
  mesh = await TestGateway.start(documentsFor("a"), { isolates: 3, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
});

afterAll(async () => {
  await mesh.dispose();
  await Promise.all([a.close(), b.close()]);
});

type Applied = { status: number; body: { version: number; fromVersion: number; unchanged: boolean } };

const currentVersion = async () => (await mesh.admin<{ version: number }>("GET", "/config")).body.version;
const versionCount = async () => (await mesh.admin<{ versions: unknown[] }>("GET", "/config/versions?limit=500")).body.versions.length;
/** Makes `target` the upstream the current version routes app.test to (a no-op when it already is); its version. */
async function routeAppTo(target: string, headers: Record<string, string> = {}, message?: string): Promise<Applied["body"]> {
  const applied = (await mesh.admin("POST", "/config/apply", { documents: documentsFor(target), ...(message && { message }) }, 0, headers)) as Applied;
  expect(applied.status).toBe(200);
  return applied.body;
}

// Every test below sets up the state it needs and asserts relative to the version it found, so each
// runs alone (vitest -t) as well as in any order after the others.
describe("the deploy's policies are version 1", () => {
  it("seeds the store once, whichever isolate starts first", async () => {
    const fresh = await TestGateway.start(documentsFor("a"), { isolates: 3 });
    try {
      await Promise.all([0, 1, 2].map((isolate) => fresh.fetch("http://app.test/", {}, isolate)));
      const { body } = await fresh.admin<{ versions: { version: number; action: string; actor: string }[] }>("GET", "/config/versions");
      expect(body.versions).toEqual([expect.objectContaining({ version: 1, action: "seed", actor: "deploy" })]);
      const current = await fresh.admin<{ version: number; documents: unknown[] }>("GET", "/config");
      expect(current.body).toMatchObject({ version: 1, documents: documentsFor("a") });
    } finally {
      await fresh.dispose();
    }
  });
});

describe("apply", () => {
  it("validates, stores the next version, and every isolate serves it within the poll interval", async () => {
    const { version: base } = await routeAppTo("a");
    const { status, body } = await mesh.admin("POST", "/config/apply", { documents: documentsFor("b"), baseVersion: base, message: "send app to b" }, 0, { "x-edgemesh-actor": "alice" });
    expect(status).toBe(200);
    expect(body).toEqual({
      dryRun: false,
      unchanged: false,
      fromVersion: base,
      version: base + 1,
      changes: [{ object: "HTTPRoute/app", change: "changed", fields: [{ path: "spec.rules[0].backendRefs[0].name", from: "a", to: "b" }] }],
      published: true,
      warnings: [],
    });
    expect(await servedEverywhereBy("b")).toBe(true);
    const status2 = await mesh.admin<{ isolate: { tableVersion: number } }>("GET", "/status", undefined, 2);
    expect(status2.body.isolate.tableVersion).toBe(base + 1);
  });

  it("rejects an invalid set whole, with the validator's field errors, and keeps the running version", async () => {
    await routeAppTo("b");
    const before = await versionCount();
    const bad = [backend("a", [a.url]), route("app", { hostnames: ["app.test"], rules: [{ backendRefs: [{ name: "nope", weight: -1 }] }] })];
    const { status, body } = await mesh.admin<{ error: { reason: string; errors: string[] } }>("POST", "/config/apply", { documents: bad, sources: ["app.yaml", "app.yaml"] });
    expect(status).toBe(400);
    expect(body.error.reason).toBe("invalid_policy");
    expect(body.error.errors).toEqual(["app.yaml: HTTPRoute/app spec.rules[0].backendRefs[0].weight: must be at least 0"]);
    expect(await versionCount()).toBe(before);
    expect(await servedEverywhereBy("b")).toBe(true);
  });

  it("reports unknown references by file, as npm run validate does", async () => {
    const { body } = await mesh.admin<{ error: { errors: string[] } }>("POST", "/config/apply", { documents: [routeTo("ghost")], sources: ["routes.yaml"] });
    expect(body.error.errors).toEqual(['routes.yaml: HTTPRoute/app spec.rules[0].backendRefs[0].name: refers to unknown Backend "ghost"']);
  });

  it("refuses a malformed request with a 400 naming the field", async () => {
    const { status, body } = await mesh.admin<{ error: { reason: string; errors: string[] } }>("POST", "/config/apply", { documents: "not a list" });
    expect(status).toBe(400);
    expect(body.error.reason).toBe("invalid_request");
    expect(body.error.errors[0]).toMatch(/^documents: /);
  });

  it("dry-runs: the diff, and nothing stored", async () => {
    const { version } = await routeAppTo("b");
    const { body } = await mesh.admin<{ dryRun: boolean; version: number; changes: { object: string }[] }>("POST", "/config/apply", { documents: documentsFor("a"), dryRun: true });
    expect(body).toMatchObject({ dryRun: true, version, changes: [{ object: "HTTPRoute/app", change: "changed" }] });
    expect(await currentVersion()).toBe(version);
  });

  it("lets one of two concurrent applies win; the other gets a version conflict", async () => {
    const { version: base } = await routeAppTo("b");
    const before = await versionCount();
    const [first, second] = await Promise.all([
      mesh.admin("POST", "/config/apply", { documents: documentsFor("a"), baseVersion: base }, 1),
      mesh.admin("POST", "/config/apply", { documents: [...documentsFor("b"), simpleRoute("other", "other.test", "b")], baseVersion: base }, 2),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    const loser = (first.status === 409 ? first : second).body as { error: { reason: string; currentVersion: number } };
    expect(loser.error).toMatchObject({ reason: "version_conflict", currentVersion: base + 1 });
    expect(await versionCount()).toBe(before + 1);
  });
});

describe("history, diff and rollback", () => {
  it("diffs any two versions", async () => {
    const { version: from } = await routeAppTo("a");
    const { version: to } = await routeAppTo("b");
    const { body } = await mesh.admin<{ changes: unknown[] }>("GET", `/config/diff?from=${from}&to=${to}`);
    expect(body.changes).toEqual([{ object: "HTTPRoute/app", change: "changed", fields: [{ path: "spec.rules[0].backendRefs[0].name", from: "a", to: "b" }] }]);
    expect((await mesh.admin("GET", `/config/diff?from=${from}&to=99999`)).status).toBe(404);
  });

  it("rolls back to an earlier version as a new version", async () => {
    const { version: toA } = await routeAppTo("a");
    const { version: toB } = await routeAppTo("b");
    const { status, body } = await mesh.admin<{ version: number; fromVersion: number }>("POST", "/config/rollback", { version: toA });
    expect(status).toBe(200);
    expect(body).toMatchObject({ fromVersion: toB, version: toB + 1 });
    const rolledBack = await mesh.admin<{ documents: unknown[] }>("GET", `/config/versions/${toB + 1}`);
    const original = await mesh.admin<{ documents: unknown[] }>("GET", `/config/versions/${toA}`);
    expect(rolledBack.body.documents).toEqual(original.body.documents);
    expect(await servedEverywhereBy("a")).toBe(true);
    expect((await mesh.admin("POST", "/config/rollback", { version: 99999 })).status).toBe(404);
  });
});

describe("audit log", () => {
  type Entry = { actor: string; action: string; fromVersion: number | null; toVersion: number; at: number; detail: { message?: string } };

  it("records every change: who, when, what, from which version to which", async () => {
    await routeAppTo("a");
    const applied = await routeAppTo("b", { "x-edgemesh-actor": "alice" }, "send app to b");
    const rolledBack = (await mesh.admin<{ version: number }>("POST", "/config/rollback", { version: applied.version - 1 })).body.version;
    const { body } = await mesh.admin<{ entries: Entry[] }>("GET", "/audit?limit=500");
    // Newest first; every version has its entry, from the version before it.
    expect(body.entries.slice(0, 2).map((e) => [e.action, e.fromVersion, e.toVersion])).toEqual([
      ["rollback", rolledBack - 1, rolledBack],
      ["apply", applied.version - 1, applied.version],
    ]);
    const apply = body.entries.find((e) => e.toVersion === applied.version)!;
    // The verified caller, the break-glass token here; the name the request declared is not read.
    expect(apply.actor).toBe("break-glass:ADMIN_TOKEN");
    expect(apply.detail.message).toBe("send app to b");
    expect(apply.at).toBeGreaterThan(Date.now() - 60_000);
    const versions = (await mesh.admin<{ versions: { version: number }[] }>("GET", "/config/versions?limit=500")).body.versions.map((v) => v.version);
    expect(body.entries.filter((e) => e.toVersion !== null).map((e) => e.toVersion)).toEqual(versions);
  });

  it("cannot be edited through the API", async () => {
    const before = (await mesh.admin<{ entries: unknown[] }>("GET", "/audit")).body.entries;
    for (const method of ["PUT", "PATCH", "DELETE", "POST"]) expect((await mesh.admin(method, "/audit", {})).status).toBe(404);
    expect((await mesh.admin<{ entries: unknown[] }>("GET", "/audit")).body.entries).toEqual(before);
  });
});

describe("a cold isolate", () => {
  it("keeps versions applied before any gateway brought its bundle", async () => {
    const early = await TestGateway.start(documentsFor("a"), { isolates: 1 });
    try {
      expect((await early.admin("POST", "/config/apply", { documents: documentsFor("b") })).status).toBe(200);
      expect(((await (await early.fetch("http://app.test/")).json()) as Echo).server).toBe("b");
      expect((await early.admin<{ versions: unknown[] }>("GET", "/config/versions")).body.versions).toHaveLength(1);
    } finally {
      await early.dispose();
    }
  });

  it("serves the current version to every request of its first burst, not the deploy's", async () => {
    const fresh = await TestGateway.start(documentsFor("a"), { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
    try {
      await fresh.fetch("http://app.test/", {}, 0);
      expect((await fresh.admin("POST", "/config/apply", { documents: documentsFor("b"), baseVersion: 1 })).status).toBe(200);
      // Isolate 1 has served nothing yet: all of these arrive while its first read is under way.
      const servers = await Promise.all(Array.from({ length: 10 }, async () => ((await (await fresh.fetch("http://app.test/", {}, 1)).json()) as Echo).server));
      expect(servers).toEqual(Array(10).fill("b"));
    } finally {
      await fresh.dispose();
    }
  });
});

describe("isolate counters across versions", () => {
  it("keeps requests in flight counted when a new version is compiled: the concurrency limit holds", async () => {
    const limited = (target: string) => [
      ...documentsFor(target),
      trafficPolicy("a-limit", { kind: "Backend", name: "a" }, { circuitBreaker: { maxParallelRequests: 2 } }),
      simpleRoute("other", "other.test", "a"),
    ];
    const mesh2 = await TestGateway.start(limited("a"), { isolates: 1, vars: { CONFIG_POLL_INTERVAL_MS: "50" } });
    a.setAlways({ kind: "hang" });
    try {
      const before = a.received.length;
      const hanging = [mesh2.fetch("http://other.test/"), mesh2.fetch("http://other.test/")];
      // Both must be in flight at the upstream before the limit is put to the test.
      await waitFor("both requests at the upstream", () => a.received.length >= before + 2);
      expect((await mesh2.admin("POST", "/config/apply", { documents: limited("b") })).status).toBe(200);
      await waitFor("version 2 in the isolate", async () => (await mesh2.admin<{ isolate: { tableVersion: number } }>("GET", "/status")).body.isolate.tableVersion >= 2);
      const third = await mesh2.fetch("http://other.test/");
      expect(third.status).toBe(503);
      expect(third.headers.get("x-edgemesh-reason")).toBe("overflow");
      a.release();
      await Promise.all(hanging);
    } finally {
      a.release().setAlways(undefined);
      await mesh2.dispose();
    }
  });
});

describe("admin access", () => {
  it("needs the admin token", async () => {
    const missing = await mesh.fetch("http://admin.test/admin/config");
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { reason: string } }).error.reason).toBe("unauthorized");
    const wrong = await mesh.fetch("http://admin.test/admin/config", { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });

  it("publishes an OpenAPI document generated from the schemas", async () => {
    const response = await mesh.fetch("http://admin.test/admin/openapi.json");
    const doc = (await response.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/admin/config", "/admin/config/apply", "/admin/config/diff", "/admin/config/rollback", "/admin/config/versions", "/admin/audit", "/admin/backends", "/admin/backends/{name}/endpoints", "/admin/ratelimits", "/admin/status"]),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["ApplyRequest", "ApplyResult", "AuditEntry", "Error"]));
  });

  it("reserves /admin and below for the admin API; /administrator stays a mesh path", async () => {
    expect((await mesh.fetch("http://app.test/admin/anything")).status).toBe(401);
    expect((await mesh.fetch("http://app.test/administrator")).status).toBe(200);
  });

  it("recognizes the admin API on the path as the mesh normalizes it: /%61dmin is /admin", async () => {
    const missing = await mesh.fetch("http://app.test/%61dmin/status");
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { reason: string } }).error.reason).toBe("unauthorized");
    const ok = await mesh.fetch("http://app.test/%61dmin/st%61tus?x=1", { headers: { authorization: "Bearer test-admin-token" } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { isolate: { tableVersion: number } }).isolate.tableVersion).toBeGreaterThan(0);
    // An encoded separator is refused as on any other path, not handed to the admin API.
    const encoded = await mesh.fetch("http://app.test/%61dmin%2Fstatus", { headers: { authorization: "Bearer test-admin-token" } });
    expect(encoded.status).toBe(400);
    expect(encoded.headers.get("x-edgemesh-reason")).toBe("invalid_request");
  });

  it("with ADMIN_HOST set, answers only there and leaves /admin on other hosts to the mesh", async () => {
    const scoped = await TestGateway.start(documentsFor("a"), { isolates: 1, vars: { ADMIN_HOST: "mesh-admin.internal" } });
    try {
      const echo = (await (await scoped.fetch("http://app.test/admin/config")).json()) as Echo;
      expect(echo).toMatchObject({ server: "a", url: "/admin/config" });
      const admin = await scoped.fetch("http://Mesh-Admin.internal:8787/admin/config", { headers: { authorization: "Bearer test-admin-token" } });
      expect(admin.status).toBe(200);
    } finally {
      await scoped.dispose();
    }
  });
});
