/**
 * What an apply may be: how big (413 before the ConfigStore for the body, per document and per set in
 * it, and a 10,000-route set still applies), never empty by accident, and a no-op when nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, route, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";

let a: Upstream;
let mesh: TestGateway;

type Result = { dryRun: boolean; unchanged: boolean; fromVersion: number; version: number; changes: unknown[]; published: boolean; warnings: string[] };
type Problem = { error: { status: number; reason: string; message: string } };

const base = () => [backend("a", [a.url]), simpleRoute("app", "app.test", "a")];
const versions = async () => (await mesh.admin<{ versions: { version: number }[] }>("GET", "/config/versions?limit=500")).body.versions.map((v) => v.version);
const auditCount = async () => (await mesh.admin<{ entries: unknown[] }>("GET", "/audit?limit=500")).body.entries.length;

/** 10,000 routes, each on its own host, about 230 bytes of JSON apiece: past the old 2 MB row limit. */
const manyRoutes = (count: number) =>
  Array.from({ length: count }, (_, i) =>
    route(`route-${i}`, { hostnames: [`service-${i}.many.test`], rules: [{ matches: [{ path: { type: "PathPrefix", value: `/v1/items-${i}` } }], backendRefs: [{ name: "a" }] }] }),
  );

beforeAll(async () => {
  a = await Upstream.start("a");
  mesh = await TestGateway.start(base(), { isolates: 2, vars: { CONFIG_POLL_INTERVAL_MS: "100" } });
  await mesh.fetch("http://app.test/");
});

afterAll(async () => {
  await mesh.dispose();
  await a.close();
});

describe("size limits", () => {
  it("answers a 6.4 MB body with 413 naming the limit, before it reaches the ConfigStore", async () => {
    // 1000 documents of 6.4 KB: the set that used to end in SQLITE_TOOBIG and a 503.
    const note = "x".repeat(6_400);
    const documents = Array.from({ length: 1000 }, (_, i) => ({ ...backend(`b${i}`, [a.url]), metadata: { name: `b${i}`, annotations: { note } } }));
    const { status, body } = await mesh.admin<Problem>("POST", "/config/apply", { documents });
    expect(status).toBe(413);
    expect(body.error).toEqual({ status: 413, reason: "payload_too_large", message: "the request body is over 5242880 bytes (5 MiB), the limit for POST /admin/config/apply" });
    expect(await versions()).toEqual([1]);
  });

  it("refuses more than 20 000 documents with 413, naming the limit", async () => {
    const documents = Array.from({ length: 20_001 }, () => ({}));
    const { status, body } = await mesh.admin<Problem>("POST", "/config/apply", { documents });
    expect(status).toBe(413);
    expect(body.error).toEqual({ status: 413, reason: "payload_too_large", message: "the policy set has 20001 documents; the limit is 20000" });
    expect(await versions()).toEqual([1]);
  });

  it("counts a body sent without Content-Length as it streams", async () => {
    // 64 KiB and one byte: the whole body is read by the time the limit is passed, so the early answer resets nothing.
    const chunks = [...Array<string>(4).fill(" ".repeat(16_384)), "x"].map((text) => new TextEncoder().encode(text));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const response = await mesh.fetch("http://admin.test/admin/config/rollback", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit & { headers: Record<string, string> });
    expect(response.status).toBe(413);
    expect(((await response.json()) as Problem).error.message).toBe("the request body is over 65536 bytes (64 KiB), the limit for POST /admin/config/rollback");
  });

  it("refuses a document over 1 MiB with 413, naming the document and the limit", async () => {
    const big = { ...backend("big", [a.url]), metadata: { name: "big", annotations: { note: "y".repeat(1_100_000) } } };
    const { status, body } = await mesh.admin<Problem>("POST", "/config/apply", { documents: [...base(), big], sources: ["a.yaml", "a.yaml", "big.yaml"] });
    expect(status).toBe(413);
    expect(body.error.message).toBe("document 3 (big.yaml) is 1100163 bytes as JSON; the limit per document is 1048576 bytes (1 MiB)");
  });

  it("applies a 10,000-route set of more than 2 MB, and every isolate serves it", async () => {
    const documents = [...base(), ...manyRoutes(10_000)];
    expect(JSON.stringify(documents).length).toBeGreaterThan(2_100_000);
    const { status, body } = await mesh.admin<Result>("POST", "/config/apply", { documents, baseVersion: 1 });
    expect({ status, version: body.version, unchanged: body.unchanged, changes: body.changes.length }).toEqual({ status: 200, version: 2, unchanged: false, changes: 10_000 });
    const stored = await mesh.admin<{ summary: { documents: number }; documents: unknown[] }>("GET", "/config/versions/2");
    expect(stored.body.summary.documents).toBe(10_002);
    expect(stored.body.documents).toEqual(documents);
    for (const isolate of [0, 1]) {
      let answer: Echo | undefined;
      for (let attempt = 0; attempt < 200 && !answer; attempt++) {
        const response = await mesh.fetch("http://service-9999.many.test/v1/items-9999", {}, isolate);
        if (response.status === 200) answer = (await response.json()) as Echo;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(answer?.server).toBe("a");
    }
    const audit = await mesh.admin<{ entries: { toVersion: number; detail: { changes: unknown[]; changesOmitted?: number } }[] }>("GET", "/audit?limit=1");
    expect(audit.body.entries[0]!.toVersion).toBe(2);
    // The audit entry keeps what fits in its row: the object names, and a count of the rest.
    expect(audit.body.entries[0]!.detail.changes.length + (audit.body.entries[0]!.detail.changesOmitted ?? 0)).toBe(10_000);
  });
});

describe("an empty set", () => {
  it("is refused unless allowEmpty says it is meant, in apply and in rollback", async () => {
    const refused = await mesh.admin<Problem>("POST", "/config/apply", { documents: [] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toEqual({
      status: 400,
      reason: "empty_policy_set",
      message: 'documents is empty: it would remove every route and backend; set "allowEmpty": true to do that on purpose',
    });
    const before = await versions();
    const emptied = await mesh.admin<Result>("POST", "/config/apply", { documents: [], allowEmpty: true });
    expect(emptied.body).toMatchObject({ unchanged: false, version: before[0]! + 1 });
    const back = await mesh.admin<Result>("POST", "/config/apply", { documents: base() });
    expect(back.status).toBe(200);
    const rollback = await mesh.admin<Problem>("POST", "/config/rollback", { version: emptied.body.version });
    expect(rollback.status).toBe(400);
    expect(rollback.body.error.message).toBe('that version has no documents: it would remove every route and backend; set "allowEmpty": true to do that on purpose');
  });
});

describe("warnings", () => {
  it("are returned by apply, as validate prints them, and do not refuse the set", async () => {
    const gateway = { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "edge" }, spec: { gatewayClassName: "edgemesh", listeners: [{ name: "web", hostname: "*.example.com", port: 80, protocol: "HTTP" }] } };
    const stray = { ...simpleRoute("stray", "stray.test", "a"), spec: { ...simpleRoute("stray", "stray.test", "a").spec, parentRefs: [{ name: "edge" }] } };
    const { status, body } = await mesh.admin<Result>("POST", "/config/apply", { documents: [...base(), gateway, stray], sources: [...base().map(() => "base.yaml"), "edge.yaml", "stray.yaml"], dryRun: true });
    expect(status).toBe(200);
    // "app" names no parent once a Gateway exists; "stray" names one whose listener does not serve stray.test.
    expect(body.warnings.map((warning) => warning.split(":")[0])).toEqual(["base.yaml", "stray.yaml"]);
    expect(body.warnings[1]).toMatch(/^stray\.yaml: HTTPRoute\/stray /);
  });

  it("include plaintext endpoints outside loopback, unless the Backend opts out", async () => {
    const plain = backend("plain", ["http://10.0.0.7:8080"]);
    const apply = (documents: unknown[]) => mesh.admin<Result>("POST", "/config/apply", { documents: [...base(), ...documents], sources: [...base().map(() => "base.yaml"), "plain.yaml"], dryRun: true });
    expect((await apply([plain])).body.warnings).toEqual([
      "plain.yaml: Backend/plain spec.endpoints[0].url: traffic to http://10.0.0.7:8080 is not encrypted in transit; use https:// or set spec.tls: { mode: DISABLE } on the Backend to opt out explicitly",
    ]);
    expect((await apply([{ ...plain, spec: { ...plain.spec, tls: { mode: "DISABLE" } } }])).body.warnings).toEqual([]);
  });
});

describe("re-applying what is already there", () => {
  it("makes no version and no audit entry, and says so", async () => {
    const [current] = await versions();
    const entries = await auditCount();
    const again = await mesh.admin<Result>("POST", "/config/apply", { documents: base(), message: "same again" });
    expect(again).toEqual({ status: 200, body: { dryRun: false, unchanged: true, fromVersion: current, version: current, changes: [], published: true, warnings: [] } });
    // Key order inside a document does not make it different.
    const reordered = base().map((document) => Object.fromEntries(Object.entries(document).reverse()));
    expect((await mesh.admin<Result>("POST", "/config/apply", { documents: reordered })).body.unchanged).toBe(true);
    expect((await versions())[0]).toBe(current);
    expect(await auditCount()).toBe(entries);
  });

  it("does the same for a rollback to a version with the current documents", async () => {
    const [current] = await versions();
    const entries = await auditCount();
    // Version 1 holds base(), which the previous test left current.
    const rollback = await mesh.admin<Result>("POST", "/config/rollback", { version: 1 });
    expect(rollback.body).toMatchObject({ unchanged: true, fromVersion: current, version: current, changes: [] });
    expect((await versions())[0]).toBe(current);
    expect(await auditCount()).toBe(entries);
  });
});

describe("the limits are documented", () => {
  it("in the OpenAPI document", async () => {
    const doc = (await (await mesh.fetch("http://admin.test/admin/openapi.json")).json()) as { components: { schemas: Record<string, { description?: string; properties: Record<string, { description?: string }> }> } };
    const apply = doc.components.schemas.ApplyRequest!;
    expect(apply.description).toContain("at most 5242880 bytes (5 MiB): larger ones get 413 payload_too_large");
    expect(apply.properties.documents!.description).toContain("at most 20000 (more: 413), each at most 1048576 bytes (1 MiB) as JSON");
    expect(apply.properties.allowEmpty!.description).toContain("refused (400 empty_policy_set) unless this is true");
    expect(doc.components.schemas.ApplyResult!.properties.unchanged!.description).toContain("no version was made");
  });
});
