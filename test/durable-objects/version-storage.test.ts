/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * Versions persisted before per-document storage (documents and sources as JSON in the version's own
 * row, in a table without document_count) still read, roll back and diff after the upgrade.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configStoreOf } from "../../common/protocol.ts";
import { VersionStore } from "../../durable-objects/version-store.ts";

const backend = (port: number) => ({ apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "a" }, spec: { endpoints: [{ url: `http://127.0.0.1:${port}` }] } });

describe("version storage", () => {
  it("reads a version row written the old way, next to new ones", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("config"));
    await runInDurableObject(stub, (_object, state) => {
      const sql = state.storage.sql;
      // The schema and the row exactly as the store wrote them before.
      sql.exec("DROP TABLE versions");
      sql.exec(`CREATE TABLE versions (
        version INTEGER PRIMARY KEY, documents TEXT NOT NULL, sources TEXT NOT NULL,
        created_at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, message TEXT NOT NULL)`);
      sql.exec(
        "INSERT INTO versions (version, documents, sources, created_at, actor, action, message) VALUES (1, ?, ?, 1700000000000, 'deploy', 'seed', 'old')",
        JSON.stringify([backend(9001)]),
        JSON.stringify(["old.yaml"]),
      );
      // What a restarted object does on its way up.
      new VersionStore(sql, state.storage);
    });
    const store = configStoreOf(env.CONFIG_STORE);
    expect(await store.current()).toEqual({ version: 1, documents: [backend(9001)], sources: ["old.yaml"] });
    expect(await store.history()).toEqual([{ version: 1, createdAt: 1700000000000, actor: "deploy", action: "seed", message: "old", documents: 1 }]);
    expect(await store.backendSpec("a")).toEqual(backend(9001).spec);

    const applied = await store.apply({ documents: [backend(9002)], sources: ["new.yaml"], actor: "test" });
    expect(applied).toMatchObject({ ok: true, fromVersion: 1, version: 2 });
    expect((await store.getVersion(2))?.documents).toEqual([backend(9002)]);
    expect(await store.diff(1, 2)).toEqual([{ object: "Backend/a", change: "changed", fields: [{ path: "spec.endpoints[0].url", from: "http://127.0.0.1:9001", to: "http://127.0.0.1:9002" }] }]);
    expect(await store.rollback({ version: 1, actor: "test" })).toMatchObject({ ok: true, fromVersion: 2, version: 3 });
    expect(await store.current()).toEqual({ version: 3, documents: [backend(9001)], sources: ["old.yaml"] });
    expect((await store.history()).map((v) => [v.version, v.documents])).toEqual([[3, 1], [2, 1], [1, 1]]);
  });
});
