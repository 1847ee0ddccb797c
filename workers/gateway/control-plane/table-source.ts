/**
 * Where a gateway isolate gets its routing table without waiting on the control plane: the version
 * the ConfigStore published to KV, polled at most every CONFIG_POLL_INTERVAL_MS (5 s by default) with
 * at most one read in flight, in the background. A cold isolate waits up to COLD_START_WAIT_MS for its
 * first read, then serves the deploy's own policies. A failed or slow read keeps the last good table.
 */
import { configStoreOf, type ConfigStore } from "../../../durable-objects/config-store.ts";
import { SNAPSHOT_KEY, type MeshSnapshot } from "../../../durable-objects/types.ts";
import type { GatewayEnv } from "../context.ts";
import type { RoutingTable } from "../table/index.ts";
import { sleep } from "../attempt/sleep.ts";
import { withTimeout } from "../with-timeout.ts";
import { compileSnapshot, seedOf, type Seed } from "./seed.ts";

export const DEFAULT_POLL_INTERVAL_MS = 5_000;
const COLD_START_WAIT_MS = 300;
/** A read or seed that takes longer is abandoned, so a hung control plane cannot stall the next poll. */
const CONTROL_PLANE_TIMEOUT_MS = 2_000;

export interface ControlPlaneEnv {
  MESH_KV?: KVNamespace;
  CONFIG_STORE?: DurableObjectNamespace<ConfigStore>;
  CONFIG_POLL_INTERVAL_MS?: string;
}

interface Loaded {
  table: RoutingTable;
  version: number;
  registryVersion: number;
}

type Waiter = Pick<ExecutionContext, "waitUntil">;

export class TableSource {
  private seed: Seed | undefined;
  private loaded: Loaded | undefined;
  private checkedAt = 0;
  private pollMs = DEFAULT_POLL_INTERVAL_MS;
  /** The first read of a cold isolate, which every request arriving before its deadline waits on. */
  private firstRead: { done: Promise<void>; deadline: number } | undefined;
  private refreshing: Promise<void> | undefined;
  private seededHash: string | undefined;
  private lastError: string | undefined;

  /** The table to route with: synchronous once warm, so the hot path awaits nothing. */
  current(env: GatewayEnv & ControlPlaneEnv, ctx: Waiter): RoutingTable | Promise<RoutingTable> {
    const seed = this.seed;
    if (!seed) return seedOf(env).then((built) => ((this.seed = built), this.start(env, ctx)));
    if (!env.MESH_KV) return seed.table;
    if (!this.loaded && this.firstRead && Date.now() < this.firstRead.deadline) return this.waitForFirstRead(seed);
    if (!this.refreshing && Date.now() - this.checkedAt >= this.pollMs) ctx.waitUntil(this.refresh(env, seed));
    return this.loaded?.table ?? seed.table;
  }

  /** First request of the isolate: start the first read and wait for it, briefly. */
  private start(env: GatewayEnv & ControlPlaneEnv, ctx: Waiter): RoutingTable | Promise<RoutingTable> {
    const seed = this.seed!;
    if (!env.MESH_KV) return seed.table;
    const interval = Number(env.CONFIG_POLL_INTERVAL_MS ?? DEFAULT_POLL_INTERVAL_MS);
    if (interval > 0) this.pollMs = interval;
    if (!this.firstRead) {
      const done = this.refresh(env, seed);
      ctx.waitUntil(done);
      this.firstRead = { done, deadline: Date.now() + COLD_START_WAIT_MS };
    }
    return this.current(env, ctx);
  }

  private async waitForFirstRead(seed: Seed): Promise<RoutingTable> {
    const { done, deadline } = this.firstRead!;
    await Promise.race([done, sleep(deadline - Date.now())]);
    return this.loaded?.table ?? seed.table;
  }

  describe() {
    return {
      version: this.loaded?.version ?? null,
      registryVersion: this.loaded?.registryVersion ?? null,
      checkedAt: this.checkedAt || null,
      lastError: this.lastError ?? null,
    };
  }

  private refresh(env: GatewayEnv & ControlPlaneEnv, seed: Seed): Promise<void> {
    this.refreshing ??= this.load(env, seed).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async load(env: GatewayEnv & ControlPlaneEnv, seed: Seed): Promise<void> {
    this.checkedAt = Date.now();
    try {
      const read = () => withTimeout(env.MESH_KV!.get<MeshSnapshot>(SNAPSHOT_KEY, "json"), CONTROL_PLANE_TIMEOUT_MS);
      let snapshot = await read();
      if (!snapshot || (snapshot.bundleHash !== seed.hash && seed.builtAt >= snapshot.bundleBuiltAt)) {
        if (await this.seedStore(env, seed)) snapshot = await read();
      }
      if (!snapshot || snapshot.version === 0) return;
      if (this.loaded?.version === snapshot.version && this.loaded.registryVersion === snapshot.registryVersion) return;
      this.loaded = {
        table: compileSnapshot(snapshot),
        version: snapshot.version,
        registryVersion: snapshot.registryVersion,
      };
      this.lastError = undefined;
    } catch (error) {
      this.lastError = String(error);
      console.error(JSON.stringify({ level: "warn", message: "control plane unreachable; serving the last good configuration", error: String(error) }));
    }
  }

  /** Hands this deploy's policies to the ConfigStore, once per isolate (again on the next poll if it failed); true if it did. */
  private async seedStore(env: ControlPlaneEnv, seed: Seed): Promise<boolean> {
    if (!env.CONFIG_STORE || this.seededHash === seed.hash) return false;
    const { hash, builtAt, documents, sources } = seed;
    await withTimeout(configStoreOf(env.CONFIG_STORE).seed({ hash, builtAt, documents, sources }), CONTROL_PLANE_TIMEOUT_MS);
    this.seededHash = seed.hash;
    return true;
  }
}

