/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * Versions persisted before per-document storage (documents and sources as JSON in the version's own
 * row, in a table without document_count) still read, roll back and diff after the upgrade; only
 * the newest VERSIONS_KEPT versions are kept.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VERSIONS_KEPT } from "../../common/config-limits.ts";
import { configStoreOf, type ConfigStoreApi } from "../../common/protocol.ts";
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

describe("version retention", () => {
  it("keeps the newest versions whole and drops the older ones with their documents", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("retention-small"));
    await runInDurableObject(stub, (_object, state) => {
      const versions = new VersionStore(state.storage.sql, state.storage, { versions: 3, bytes: 1_000_000 });
      for (let port = 1; port <= 5; port++) versions.append([backend(port)], [JSON.stringify(backend(port))], [], "test", "apply", `v${port}`);
      expect(versions.history(10).map((summary) => summary.version)).toEqual([5, 4, 3]);
      expect(versions.oldestKept()).toBe(3);
      expect(versions.row(2)).toBeUndefined();
      expect(versions.documents(3)).toEqual([backend(3)]);
      const left = state.storage.sql.exec<{ version: number }>("SELECT DISTINCT version FROM version_documents ORDER BY version").toArray();
      expect(left.map((row) => row.version)).toEqual([3, 4, 5]);
    });
  });

  it("keeps no more versions than the byte budget holds, and the current one whatever its size", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("retention-bytes"));
    await runInDurableObject(stub, (_object, state) => {
      const versions = new VersionStore(state.storage.sql, state.storage, { versions: 100, bytes: 1_000 });
      const sized = (port: number, padding: number) => ({ ...backend(port), metadata: { name: "a", annotations: { pad: "x".repeat(padding) } } });
      const store = (document: ReturnType<typeof sized>) => versions.append([document], [JSON.stringify(document)], [], "test", "apply", "");
      const size = JSON.stringify(sized(1, 0)).length;
      for (let port = 1; port <= 4; port++) store(sized(port, 400 - size)); // 400 bytes each: two fit
      expect(versions.history(10).map((summary) => summary.version)).toEqual([4, 3]);
      store(sized(5, 2_000)); // alone over the budget: kept, as the current version
      expect(versions.history(10).map((summary) => summary.version)).toEqual([5]);
    });
  });

  it("sizes versions stored before their size was kept (documents in rows of their own) when the store starts, and counts them", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("retention-unsized"));
    await runInDurableObject(stub, (_object, state) => {
      const sql = state.storage.sql;
      const padded = (port: number) => ({ ...backend(port), metadata: { name: "a", annotations: { pad: "x".repeat(600) } } });
      const first = new VersionStore(sql, state.storage, { versions: 100, bytes: 10_000 });
      first.append([padded(1)], [JSON.stringify(padded(1))], [], "test", "apply", "");
      first.append([padded(2)], [JSON.stringify(padded(2))], [], "test", "apply", "");
      // As a store of that time left them: per-document rows, no size.
      sql.exec("UPDATE versions SET bytes = NULL");
      const restarted = new VersionStore(sql, state.storage, { versions: 100, bytes: 1_000 });
      const sizes = sql.exec<{ bytes: number }>("SELECT bytes FROM versions ORDER BY version").toArray().map((row) => row.bytes);
      expect(sizes).toEqual([JSON.stringify(padded(1)).length, JSON.stringify(padded(2)).length]);
      // Each is about 750 bytes: with a third, the newest two are over 1 000, so only the new one stays.
      restarted.append([padded(3)], [JSON.stringify(padded(3))], [], "test", "apply", "");
      expect(restarted.history(10).map((summary) => summary.version)).toEqual([3]);
    });
  });

  it("a rollback to a dropped version says it was dropped, and the running version stays", async () => {
    const stub = env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("retention-full"));
    const store = stub as unknown as ConfigStoreApi;
    await runInDurableObject(stub, (_object, state) => {
      const versions = new VersionStore(state.storage.sql, state.storage);
      for (let i = 0; i <= VERSIONS_KEPT; i++) versions.append([backend(1 + (i % 2))], [JSON.stringify(backend(1 + (i % 2)))], [], "test", "apply", "");
    });
    const current = VERSIONS_KEPT + 1;
    expect((await store.history(1))[0]!.version).toBe(current);
    expect(await store.rollback({ version: 1, actor: "test" })).toEqual({
      ok: false,
      status: 404,
      reason: "not_found",
      message: `version 1 was dropped: the store keeps the newest versions, ${VERSIONS_KEPT} at most and 1 GiB in all (now 2 to ${current}); the audit log still has its changes`,
    });
    expect(await store.rollback({ version: current + 5, actor: "test" })).toMatchObject({ ok: false, status: 404, message: `version ${current + 5} does not exist` });
    // The admin API's 404s for reading or diffing a version say the same (the CLI's rollback reads first).
    expect(await store.versionMissing(1)).toMatch(/^version 1 was dropped: /);
    expect((await store.current())?.version).toBe(current);
  });
});
