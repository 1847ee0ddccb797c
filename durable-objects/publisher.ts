/**
 * Publishes the mesh snapshot to Workers KV after changes: one write at a time and at most one a
 * second (KV's limit for one key), until what is published has caught up with what changed. The two
 * counters persist, so a publish that failed is retried by the alarm, even after a restart, and
 * concurrent changes can never leave an older snapshot in KV than the newest change.
 */
import type { MetaTable } from "./meta.ts";
import { SNAPSHOT_KEY, type MeshSnapshot } from "../common/protocol.ts";

const KV_WRITE_GAP_MS = 1_000;

export class SnapshotPublisher {
  private running: Promise<void> | undefined;

  constructor(
    private readonly meta: MetaTable,
    private readonly kv: KVNamespace | undefined,
    private readonly snapshot: () => MeshSnapshot,
    private readonly retryLater: () => Promise<void>,
  ) {}

  /** Records a change and publishes it; whether it reached KV. */
  changed(): Promise<boolean> {
    return this.publish(this.record());
  }

  /**
   * Records a change, synchronously: called in the same step that stores what changed, so an object
   * that restarts before the publish (a deploy, a limit) still finds itself `behind`, and its alarm
   * publishes.
   */
  record(): number {
    const change = this.meta.number("changes") + 1;
    this.meta.set("changes", change);
    return change;
  }

  /** Publishes until KV has caught up; whether it holds `change` (from record()). */
  async publish(change: number): Promise<boolean> {
    await this.flush();
    return this.meta.number("published") >= change;
  }

  get behind(): boolean {
    return this.meta.number("published") < this.meta.number("changes");
  }

  flush(): Promise<void> {
    this.running ??= this.publishUntilCaughtUp().finally(() => (this.running = undefined));
    return this.running;
  }

  private async publishUntilCaughtUp(): Promise<void> {
    while (this.behind) {
      const target = this.meta.number("changes");
      try {
        // Without a KV binding (a bare local setup) there is nowhere to publish: count it as done.
        await this.kv?.put(SNAPSHOT_KEY, JSON.stringify(this.snapshot()));
      } catch (error) {
        console.error(JSON.stringify({ level: "error", message: "snapshot publish failed; the alarm retries it", error: String(error) }));
        return this.retryLater();
      }
      this.meta.set("published", target);
      if (this.behind) await new Promise((resolve) => setTimeout(resolve, KV_WRITE_GAP_MS));
    }
  }
}
