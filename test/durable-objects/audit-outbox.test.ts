/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * A change the admin API asks of a BackendCoordinator or the Issuer is written with its audit record,
 * and a ConfigStore that cannot be reached only delays the record: the object's alarm delivers it,
 * with the time of the change, once. The unreachable store is a real binding to objects that answer
 * no audit call (the RateLimiter namespace), so every call fails as a real RPC does.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configStoreOf, type AuditEntry, type BackendCoordinatorApi, type IssuerApi } from "../../common/protocol.ts";

const OPERATOR = "spiffe://edgemesh.local/ns/ops/sa/operator";
const store = () => configStoreOf(env.CONFIG_STORE);
const entriesBy = async (actor: string): Promise<AuditEntry[]> => (await store().audit(500)).filter((entry) => entry.actor === actor);

/** Points the object's CONFIG_STORE at objects that fail every audit call, or back at the real store. */
const reachStore = (stub: DurableObjectStub, reachable: boolean) =>
  runInDurableObject(stub, (object) => {
    const own = object as unknown as { env: Record<string, unknown> };
    Object.defineProperty(own, "env", { value: { ...own.env, CONFIG_STORE: reachable ? env.CONFIG_STORE : env.RATE_LIMITER }, configurable: true, writable: true });
  });

const alarmOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_object, state) => state.storage.getAlarm());

/** Fires the alarm now, as the platform would once it is due (set ahead first, so the platform does not fire it on its own). */
async function fire(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_object, state) => state.storage.setAlarm(Date.now() + 60_000));
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

describe("audit records written with the change", () => {
  it("a registry change made while the ConfigStore is away is audited once it is back, at the change's time, once", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("outbox-pool"));
    const coordinator = stub as unknown as BackendCoordinatorApi;
    const actor = `${OPERATOR}-registry`;
    await reachStore(stub, false);
    const before = Date.now();
    expect((await coordinator.register("outbox-pool", { url: "http://127.0.0.1:9001", ttlMs: 3_600_000 }, actor)).ok).toBe(true);
    expect(await coordinator.drain("outbox-pool", "http://127.0.0.1:9001", actor)).toBe(true);
    const after = Date.now();
    // The change stands (the caller was told so), its records wait, and the alarm is set to send them.
    expect((await coordinator.endpoints()).map((endpoint) => endpoint.draining)).toEqual([true]);
    expect(await entriesBy(actor)).toEqual([]);
    const alarm = await alarmOf(stub);
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + 5_000);

    await fire(stub); // still away: kept, and the alarm that failed set the next retry
    expect(await entriesBy(actor)).toEqual([]);
    expect(await alarmOf(stub)).toBeGreaterThan(Date.now());
    await reachStore(stub, true);
    await fire(stub);
    const delivered = await entriesBy(actor);
    expect(delivered.map((entry) => entry.action)).toEqual(["drain", "register"]);
    expect(delivered[1]!.detail).toMatchObject({ backend: "outbox-pool", url: "http://127.0.0.1:9001", ttlSeconds: 3600 });
    for (const entry of delivered) expect(entry.at).toBeGreaterThanOrEqual(before), expect(entry.at).toBeLessThanOrEqual(after);
    await fire(stub);
    expect(await entriesBy(actor)).toHaveLength(2);
  });

  it("keeps the retry alarm while heartbeats reschedule, and sets it again after a restart that lost it", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("outbox-busy"));
    const coordinator = stub as unknown as BackendCoordinatorApi;
    const actor = `${OPERATOR}-busy`;
    await reachStore(stub, false);
    expect((await coordinator.register("outbox-busy", { url: "http://127.0.0.1:9002", ttlMs: 3_600_000 }, actor)).ok).toBe(true);
    const retry = (await alarmOf(stub))!;
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await coordinator.heartbeat("outbox-busy", "http://127.0.0.1:9002")).toBe(true);
      expect(await alarmOf(stub)).toBe(retry);
    }
    // The object stops with its record kept and (say) no alarm: the next instance sets one.
    await runInDurableObject(stub, (_object, state) => state.storage.deleteAlarm());
    await runInDurableObject(stub, (_object, state) => state.abort("restart")).catch(() => undefined);
    const again = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("outbox-busy"));
    expect(await (again as unknown as BackendCoordinatorApi).endpoints()).toHaveLength(1);
    expect(await alarmOf(again)).not.toBeNull();
    await fire(again); // the new instance has the real store
    expect((await entriesBy(actor)).map((entry) => entry.action)).toEqual(["register"]);
  });

  it("numbers records above the clock, so a restore from an older copy loses none", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("outbox-restored"));
    const coordinator = stub as unknown as BackendCoordinatorApi;
    const actor = `${OPERATOR}-restored`;
    expect((await coordinator.register("outbox-restored", { url: "http://127.0.0.1:9003", ttlMs: 3_600_000 }, actor)).ok).toBe(true);
    expect(await entriesBy(actor)).toHaveLength(1);
    // Storage as an older copy had it: the outbox's numbering back at nothing.
    await runInDurableObject(stub, (_object, state) => void state.storage.sql.exec("DELETE FROM audit_outbox_seq"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await coordinator.drain("outbox-restored", "http://127.0.0.1:9003", actor)).toBe(true);
    expect((await entriesBy(actor)).map((entry) => entry.action)).toEqual(["drain", "register"]);
  });

  it("the ConfigStore takes a record delivered twice once, and keeps a malformed one in a form it can read", async () => {
    const actor = `${OPERATOR}-twice`;
    const record = { actor, action: "deregister" as const, detail: { backend: "b", url: "http://127.0.0.1:1" }, seq: 1, at: 1_000 };
    expect(await store().appendAudits("test:twice", [record])).toBe(1);
    expect(await store().appendAudits("test:twice", [record, { ...record, seq: 2, detail: { big: "x".repeat(20_000) } }])).toBe(2);
    const entries = await entriesBy(actor);
    expect(entries.map((entry) => entry.detail)).toEqual([{ detailTooLarge: JSON.stringify({ big: "x".repeat(20_000) }).length }, record.detail]);
    expect(entries[1]!.at).toBe(1_000);
  });

  it("still takes an entry as admin isolates of the deploy before send it (appendAudit), during a rollout", async () => {
    const actor = `${OPERATOR}-legacy`;
    await (store() as unknown as { appendAudit(record: unknown): Promise<void> }).appendAudit({ actor, action: "drain", detail: { backend: "b", url: "http://127.0.0.1:1" } });
    expect((await entriesBy(actor)).map((entry) => [entry.action, entry.detail])).toEqual([["drain", { backend: "b", url: "http://127.0.0.1:1" }]]);
  });

  it("an Issuer change made while the ConfigStore is away is audited once it is back", async () => {
    const stub = env.ISSUER.get(env.ISSUER.idFromName("outbox-issuer"));
    const issuer = stub as unknown as IssuerApi;
    const actor = `${OPERATOR}-issuer`;
    await reachStore(stub, false);
    const created = await issuer.createCredential("spiffe://edgemesh.local/ns/default/sa/outbox", actor);
    expect(created.ok).toBe(true);
    const keys = await issuer.rotate(actor);
    expect(keys.some((key) => key.state === "published")).toBe(true);
    expect(await entriesBy(actor)).toEqual([]);
    expect(await alarmOf(stub)).toBeLessThanOrEqual(Date.now() + 5_000);
    await fire(stub); // still away: the Issuer's alarm sets the next retry too
    expect(await alarmOf(stub)).toBeGreaterThan(Date.now());
    await reachStore(stub, true);
    await fire(stub);
    const delivered = await entriesBy(actor);
    expect(delivered.map((entry) => entry.action)).toEqual(["rotate_key", "create_credential"]);
    expect(delivered[1]!.detail).toEqual({ spiffeId: "spiffe://edgemesh.local/ns/default/sa/outbox" });
    expect(JSON.stringify(delivered)).not.toContain(created.ok ? created.secret : "-");
  });

  it("an Issuer restarted with records kept retries them soon, even when a key's alarm is days away", async () => {
    const stub = env.ISSUER.get(env.ISSUER.idFromName("outbox-issuer-restart"));
    const issuer = stub as unknown as IssuerApi;
    const actor = `${OPERATOR}-issuer-restart`;
    await reachStore(stub, false);
    expect((await issuer.createCredential("spiffe://edgemesh.local/ns/default/sa/restart", actor)).ok).toBe(true);
    // It stopped before its retry was set: only the next key event's alarm, a week out.
    await runInDurableObject(stub, (_object, state) => state.storage.setAlarm(Date.now() + 7 * 24 * 3600 * 1000));
    await runInDurableObject(stub, (_object, state) => state.abort("restart")).catch(() => undefined);
    const again = env.ISSUER.get(env.ISSUER.idFromName("outbox-issuer-restart"));
    await (again as unknown as IssuerApi).keyInfo();
    expect(await alarmOf(again)).toBeLessThanOrEqual(Date.now() + 5_000);
    await fire(again); // the new instance has the real store
    expect((await entriesBy(actor)).map((entry) => entry.action)).toEqual(["create_credential"]);
    // The early alarm planned again: the keys' own next event is still set.
    expect(await alarmOf(again)).not.toBeNull();
  });
});
