/**
 * Where a gateway isolate gets its routing table: the version the ConfigStore published to KV. The
 * table an isolate serves is never older than the staleness bound, CONFIG_POLL_INTERVAL_MS (5 s by
 * default), counted from the start of the read that brought it. Once the table is half that old, the
 * next request starts a read in the background (at most one in flight), so an isolate with traffic
 * never waits; a request that finds it older than the bound (the first after an idle spell, or of a
 * cold isolate) waits for the read, up to READ_WAIT_MS. When the control plane does not answer in
 * that time, or failed its last read, the request gets the last good table (for a cold isolate, the
 * deploy's own policies): the gateway never fails closed because the control plane is away.
 */
import { configStoreOf, SNAPSHOT_KEY, type MeshSnapshot } from "../../../common/protocol.ts";
import type { GatewayEnv } from "../env.ts";
import type { IsolateState } from "../isolate-state.ts";
import type { RoutingTable } from "../table/index.ts";
import { sleep } from "../attempt/sleep.ts";
import { withTimeout } from "../../../common/with-timeout.ts";
import { buildSeed, compileSnapshot as compileTableOf, type Seed } from "./seed.ts";

export const DEFAULT_POLL_INTERVAL_MS = 5_000;
/** The longest a request waits for a read of the control plane. */
const READ_WAIT_MS = 300;
/** A read or seed that takes longer is abandoned, so a hung control plane cannot stall the next poll. */
const CONTROL_PLANE_TIMEOUT_MS = 2_000;
/** After a failed seed, how long an isolate waits before it sends its bundle again. */
const SEED_RETRY_MS = 30_000;

interface Loaded {
  table: RoutingTable;
  version: number;
  registryVersion: number;
}

/** A read under way: requests whose table is too old wait for it until `waitUntil`, on one shared timer. */
interface Read {
  done: Promise<void>;
  waitUntil: number;
  waited?: Promise<void>;
}

type Waiter = Pick<ExecutionContext, "waitUntil">;

export class TableSource {
  private seed: Seed | undefined;
  /** The seed being built; a failure is not kept, so the next request tries again. */
  private seedBuild: Promise<Seed> | undefined;
  private loaded: Loaded | undefined;
  /**
   * When the newest snapshot this isolate took was published. KV is eventually consistent: a read
   * may return an older snapshot than one already taken, and going back to it would serve a version
   * a later apply (or a rollback) replaced. A store reset (versions numbered from 1 again) still
   * publishes later, so the publication time, not the version number, says which is newer.
   */
  private newestPublishedAt = -Infinity;
  /** When the last read started, whatever became of it. */
  private checkedAt = 0;
  /** When the last successful read started: the table reflects the control plane as of then. */
  private freshAt = 0;
  private boundMs = DEFAULT_POLL_INTERVAL_MS;
  private reading: Read | undefined;
  private seededHash: string | undefined;
  /** Why the last seed failed, and when the next may be tried. */
  private seedError: string | undefined;
  private seedRetryAt = 0;
  private lastError: string | undefined;
  /**
   * A snapshot this deploy's code could not compile (a version stored under older code, or a bug),
   * by "version/registryVersion", and why: kept out of lastError's way and not compiled again on
   * every poll, only once the control plane publishes another.
   */
  private uncompilable: { key: string; error: string } | undefined;

  constructor(private readonly isolate: IsolateState) {}

  /** The table to route with: synchronous while it is fresh enough, so the hot path awaits nothing. */
  current(env: GatewayEnv, ctx: Waiter): RoutingTable | Promise<RoutingTable> {
    const seed = this.seed;
    if (!seed) return this.buildSeed(env).then((built) => ((this.seed ??= built), this.configure(env), this.current(env, ctx)));
    if (!env.MESH_KV) return seed.table;
    const now = Date.now();
    if (!this.reading && now - this.checkedAt >= this.boundMs / 2) this.startRead(env, seed, ctx, now);
    const read = this.reading;
    if (read && now - this.freshAt > this.boundMs && now < read.waitUntil && this.lastError === undefined) return this.waitFor(read, seed);
    return this.loaded?.table ?? seed.table;
  }

  private buildSeed(env: GatewayEnv): Promise<Seed> {
    if (!this.seedBuild) {
      this.seedBuild = buildSeed(env, this.isolate);
      this.seedBuild.catch(() => (this.seedBuild = undefined));
    }
    return this.seedBuild;
  }

  private configure(env: GatewayEnv): void {
    const bound = Number(env.CONFIG_POLL_INTERVAL_MS ?? DEFAULT_POLL_INTERVAL_MS);
    if (bound > 0) this.boundMs = bound;
  }

  private startRead(env: GatewayEnv, seed: Seed, ctx: Waiter, now: number): void {
    const done = this.load(env, seed).finally(() => (this.reading = undefined));
    this.reading = { done, waitUntil: now + READ_WAIT_MS };
    ctx.waitUntil(done);
  }

  private async waitFor(read: Read, seed: Seed): Promise<RoutingTable> {
    read.waited ??= Promise.race([read.done, sleep(read.waitUntil - Date.now())]);
    await read.waited;
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

  /** One read (and, for a new deploy, the seed); never rejects: a failure keeps the last good table. */
  private async load(env: GatewayEnv, seed: Seed): Promise<void> {
    const startedAt = (this.checkedAt = Date.now());
    try {
      const read = () => withTimeout(env.MESH_KV!.get<MeshSnapshot>(SNAPSHOT_KEY, "json"), CONTROL_PLANE_TIMEOUT_MS);
      let snapshot = await read();
      const unseeded = !snapshot || (snapshot.bundleHash !== seed.hash && seed.builtAt >= snapshot.bundleBuiltAt);
      if (unseeded) {
        // What the store has (its registry, keys and last version) serves while this deploy's policies
        // are handed over: a seed that is slow or fails must not leave the isolate on its bundle alone.
        if (snapshot) this.takeSnapshot(snapshot);
        if (Date.now() >= this.seedRetryAt) {
          try {
            if (await this.seedStore(env, seed)) snapshot = await read();
            this.seedError = undefined;
          } catch (error) {
            // Not again for SEED_RETRY_MS: every isolate would send the whole bundle on every poll.
            // Jittered: isolates that failed together (a store away) do not all come back together.
            this.seedRetryAt = Date.now() + SEED_RETRY_MS * (1 + Math.random() / 2);
            this.seedError = `this deploy's policies could not be handed to the ConfigStore (${String(error)}); serving ${this.serving()} until a later try does`;
            console.error(JSON.stringify({ level: "warn", message: "deploy policies not seeded; serving what the control plane has", error: String(error) }));
          }
        }
      }
      if (snapshot) this.takeSnapshot(snapshot);
      this.freshAt = startedAt;
      this.lastError = (unseeded ? this.seedError : undefined) ?? this.uncompilable?.error;
    } catch (error) {
      this.lastError = String(error);
      console.error(JSON.stringify({ level: "warn", message: "control plane unreachable; serving the last good configuration", error: String(error) }));
    }
  }

  /** A snapshot read from KV, unless one published later was taken already (KV may lag). */
  private takeSnapshot(snapshot: MeshSnapshot): void {
    // The trust bundle travels in the same snapshot, whatever the configuration version (its sequence orders it).
    if (snapshot.trustBundle) this.isolate.identity.takeBundle(snapshot.trustBundle);
    if (snapshot.publishedAt < this.newestPublishedAt) return;
    this.newestPublishedAt = snapshot.publishedAt;
    this.isolate.endUsers.takeJwks(snapshot.jwks ?? {});
    if (snapshot.version !== 0 && !(this.loaded?.version === snapshot.version && this.loaded.registryVersion === snapshot.registryVersion)) {
      this.take(snapshot);
    }
  }

  private serving(): string {
    return this.loaded ? `version ${this.loaded.version}` : "the policies bundled with this deploy";
  }

  /** Compiles a newly published snapshot; one that fails leaves the last good table in place, loudly. */
  private take(snapshot: MeshSnapshot): void {
    const key = `${snapshot.version}/${snapshot.registryVersion}`;
    if (this.uncompilable?.key === key) return;
    try {
      this.loaded = compileSnapshot(snapshot, this.isolate);
      this.uncompilable = undefined;
    } catch (error) {
      const serving = this.serving();
      const why = error instanceof Error ? error.message : String(error);
      this.uncompilable = { key, error: `configuration version ${snapshot.version} could not be compiled by this deploy (${why}); serving ${serving}` };
      console.error(JSON.stringify({ level: "error", message: "configuration version not compiled; serving the last good one", version: snapshot.version, registryVersion: snapshot.registryVersion, serving, error: why }));
    }
  }

  /** Hands this deploy's policies to the ConfigStore, once per isolate (again on the next poll if it failed); true if it did. */
  private async seedStore(env: GatewayEnv, seed: Seed): Promise<boolean> {
    if (!env.CONFIG_STORE || this.seededHash === seed.hash) return false;
    const { hash, builtAt, documents, sources } = seed;
    await withTimeout(configStoreOf(env.CONFIG_STORE).seed({ hash, builtAt, documents, sources }), CONTROL_PLANE_TIMEOUT_MS);
    this.seededHash = seed.hash;
    return true;
  }
}

/** The version the ConfigStore published, compiled (without validating again: seed.ts). */
function compileSnapshot(snapshot: MeshSnapshot, isolate: IsolateState): Loaded {
  return { table: compileTableOf(snapshot, isolate), version: snapshot.version, registryVersion: snapshot.registryVersion };
}
