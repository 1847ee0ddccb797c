/**
 * A published version this deploy's code cannot compile (stored under older schemas, say) never
 * takes the mesh down: the isolate keeps serving the last good table and says why in /admin/status;
 * the next version that compiles is taken as usual. The KV here (TestGateway's `kvScript`) hands out
 * the snapshot of the version after the seed with a document the schemas refuse and no schema
 * fingerprint, so the gateway validates it, as it does a version stored by an older deploy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream, type Echo } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

const UNCOMPILABLE_SECOND_VERSION = `const values = new Map();
export default function () {
  return {
    async get(key, type) {
      const value = values.get(key);
      return value === undefined ? null : type === "json" ? JSON.parse(value) : value;
    },
    async put(key, value) {
      const snapshot = JSON.parse(value);
      if (snapshot.version === 2) {
        snapshot.schema = "";
        snapshot.documents = [...snapshot.documents, { apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "broken" }, spec: { endpoints: "none" } }];
        value = JSON.stringify(snapshot);
      }
      values.set(key, value);
    },
  };
}`;

let a: Upstream;
let b: Upstream;
let mesh: TestGateway;
const documentsFor = (target: string, extra: string) => [backend("a", [a.url]), backend("b", [b.url]), simpleRoute("app", "app.test", target), simpleRoute(extra, `${extra}.test`, target)];
const serverOf = async () => ((await (await mesh.fetch("http://app.test/")).json()) as Echo).server;
type Status = { isolate: { tableVersion: number; controlPlane: { lastError: string | null } } };
const status = async () => (await mesh.admin<Status>("GET", "/status")).body.isolate;

beforeAll(async () => {
  [a, b] = await Promise.all([Upstream.start("a"), Upstream.start("b")]);
  mesh = await TestGateway.start(documentsFor("a", "one"), { isolates: 1, kvScript: UNCOMPILABLE_SECOND_VERSION, vars: { CONFIG_POLL_INTERVAL_MS: "50" } });
});

afterAll(async () => {
  await mesh?.dispose();
  await Promise.all([a?.close(), b?.close()]);
});

describe("a version the deploy cannot compile", () => {
  it("keeps the last good table, says so in /admin/status, and takes the next good version", async () => {
    await waitFor("the seed served", async () => (await serverOf()) === "a", { timeoutMs: 10_000, intervalMs: 50 });
    expect((await mesh.admin("POST", "/config/apply", { documents: documentsFor("b", "two") })).status).toBe(200);
    await waitFor("the failure reported", async () => ((await status()).controlPlane.lastError ?? "").includes("could not be compiled"), { timeoutMs: 10_000, intervalMs: 50 });
    const reported = await status();
    expect(reported.tableVersion).toBe(1);
    expect(reported.controlPlane.lastError).toBe(
      "configuration version 2 could not be compiled by this deploy (invalid policies:\ncontrol plane: Backend/broken spec.endpoints: must be an array (got string)); serving version 1",
    );
    for (let i = 0; i < 10; i++) expect(await serverOf()).toBe("a");

    expect((await mesh.admin("POST", "/config/apply", { documents: documentsFor("b", "three") })).status).toBe(200);
    await waitFor("the next version served", async () => (await serverOf()) === "b", { timeoutMs: 10_000, intervalMs: 50 });
    expect(await status()).toMatchObject({ tableVersion: 3, controlPlane: { lastError: null } });
  });
});
