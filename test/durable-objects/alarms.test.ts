/// <reference types="@cloudflare/vitest-pool-workers/types" />
/**
 * Alarms are delivered at least once: a handler may run again, or late. Here the platform fires each
 * alarm for real, then the test fires it once more (runDurableObjectAlarm on an alarm set far ahead)
 * and checks that the second run changes nothing.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configStoreOf } from "../../common/protocol.ts";

const passive = {
  consecutive5xx: 2,
  consecutiveGateway: 0,
  intervalMs: 10_000,
  failurePercentage: undefined,
  baseEjectionMs: 50,
  maxEjectionMs: 1_000,
  maxEjectionPercent: 50,
  halfOpenSuccesses: 1,
};

const failures = (endpoint: string, count: number) => ({ endpoint, total: count, failures: count, gatewayFailures: count, trailingFailures: count, trailingGatewayFailures: count });

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("condition not reached");
}

/** Fires the object's alarm handler again, now, as a duplicate delivery would. */
async function fireAgain(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_object, state) => state.storage.setAlarm(Date.now() + 60_000));
  expect(await runDurableObjectAlarm(stub)).toBe(true);
}

describe("BackendCoordinator alarm", () => {
  it("ends an ejection (half-open), then clears itself; firing again changes nothing", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("alarm-twice"));
    const ejected = await stub.report({ config: passive, totalEndpoints: 2, reports: [failures("http://a", 2)] });
    expect(ejected.endpoints["http://a"]).toMatchObject({ state: "ejected", ejections: 1 });
    expect(await runInDurableObject(stub, (_object, state) => state.storage.getAlarm())).toBe(ejected.endpoints["http://a"]!.until);

    const probing = await until(() => stub.snapshot(), (s) => s.endpoints["http://a"]?.state === "probing");
    expect(probing.endpoints["http://a"]).toMatchObject({ state: "probing", ejections: 1 });
    // Nothing is left to recover, so no alarm stays set.
    expect(await runInDurableObject(stub, (_object, state) => state.storage.getAlarm())).toBeNull();

    await fireAgain(stub);
    expect(await stub.snapshot()).toEqual(probing);
    expect(await runInDurableObject(stub, (_object, state) => state.storage.getAlarm())).toBeNull();
  });

  it("expires a registration once; firing again publishes nothing new", async () => {
    const stub = env.BACKEND_COORDINATOR.get(env.BACKEND_COORDINATOR.idFromName("details"));
    await stub.register("details", { url: "http://127.0.0.1:9999", ttlMs: 30 });
    await until(() => stub.endpoints(), (endpoints) => endpoints.length === 0);
    const store = configStoreOf(env.CONFIG_STORE);
    // The alarm deletes the row, then publishes the list: on a busy machine the store may not have it yet.
    const { registryVersion, registry } = await until(() => store.snapshot(), (snapshot) => Object.keys(snapshot.registry).length === 0);
    expect(registry).toEqual({});
    await fireAgain(stub);
    expect((await store.snapshot()).registryVersion).toBe(registryVersion);
  });
});

describe("ConfigStore alarm", () => {
  it("republishes only while a publish is pending", async () => {
    const store = configStoreOf(env.CONFIG_STORE);
    await store.seed({ hash: "h1", builtAt: 1, documents: [], sources: [] });
    expect(await env.MESH_KV.get("mesh/snapshot")).not.toBeNull();
    await env.MESH_KV.delete("mesh/snapshot");
    await fireAgain(env.CONFIG_STORE.get(env.CONFIG_STORE.idFromName("config")));
    expect(await env.MESH_KV.get("mesh/snapshot")).toBeNull();
    expect((await store.history()).map((v) => v.version)).toEqual([1]);
  });
});
