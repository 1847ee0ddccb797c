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
import { withTimeout } from "../with-timeout.ts";
import { compileDocuments, seedOf, type Seed } from "./seed.ts";

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

export class TableSource {
  private loaded: Loaded | undefined;
  private checkedAt = 0;
  private refreshing: Promise<void> | undefined;
  private seededHash: string | undefined;
  private lastError: string | undefined;

  async current(env: GatewayEnv & ControlPlaneEnv, waitUntil: (promise: Promise<unknown>) => void): Promise<RoutingTable> {
    const seed = await seedOf(env);
    if (!env.MESH_KV) return seed.table;
    if (this.checkedAt === 0) {
      const first = this.refresh(env, seed);
      waitUntil(first);
      await Promise.race([first, sleep(COLD_START_WAIT_MS)]);
    } else if (!this.refreshing && Date.now() - this.checkedAt >= Number(env.CONFIG_POLL_INTERVAL_MS ?? DEFAULT_POLL_INTERVAL_MS)) {
      waitUntil(this.refresh(env, seed));
    }
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
      const documents = snapshot.documents.map((value, index) => ({ source: snapshot.sources[index] ?? "control plane", index, value }));
      this.loaded = {
        table: compileDocuments(documents, snapshot.version, snapshot.registry),
        version: snapshot.version,
        registryVersion: snapshot.registryVersion,
      };
      this.lastError = undefined;
    } catch (error) {
      this.lastError = String(error);
      console.error(JSON.stringify({ level: "warn", message: "control plane unreachable; serving the last good configuration", error: String(error) }));
    }
  }

  /** Hands this deploy's policies to the ConfigStore, once per isolate; true if it did. */
  private async seedStore(env: ControlPlaneEnv, seed: Seed): Promise<boolean> {
    if (!env.CONFIG_STORE || this.seededHash === seed.hash) return false;
    this.seededHash = seed.hash;
    const { hash, builtAt, documents, sources } = seed;
    await withTimeout(configStoreOf(env.CONFIG_STORE).seed({ hash, builtAt, documents, sources }), CONTROL_PLANE_TIMEOUT_MS);
    return true;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
