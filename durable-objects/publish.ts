/** Writes the snapshot gateways poll. Without a KV binding (a bare local setup) there is nothing to publish to. */
import { SNAPSHOT_KEY, type MeshSnapshot } from "./types.ts";

export async function publishSnapshot(kv: KVNamespace | undefined, snapshot: MeshSnapshot): Promise<void> {
  if (!kv) return;
  await kv.put(SNAPSHOT_KEY, JSON.stringify(snapshot));
}
