/**
 * The metrics Durable Object's RPC face, shared by the gateway (which reports) and the admin API
 * (which reads). Isolates spread over METRICS_SHARDS objects ("metrics-0"...), each isolate always
 * reporting to the same one; readers merge every shard.
 */
import type { Namespace } from "../protocol.ts";
import type { SeriesEntry } from "./store.ts";

export interface MetricsReport {
  /** Counts since the isolate's last report (deltas), every family. */
  entries: SeriesEntry[];
  /** Epoch milliseconds the deltas were gathered up to. */
  at: number;
}

export interface MetricsApi {
  report(report: MetricsReport): Promise<void>;
  /** Every series since the object began (cumulative), for the Prometheus exposition. */
  totals(): Promise<SeriesEntry[]>;
  /** The windowed families (requests, request durations) summed over the minutes since `sinceMs`. */
  window(sinceMs: number): Promise<SeriesEntry[]>;
  /** The windowed families minute by minute since `sinceMs`, oldest first; only `service`'s series when given. */
  minutes(sinceMs: number, service?: string): Promise<MinuteRow[]>;
}

/** One minute of the windowed families: `minute` is epoch minutes (epoch ms / 60 000). */
export interface MinuteRow {
  minute: number;
  entries: SeriesEntry[];
}

export const DEFAULT_METRICS_SHARDS = 1;

export const metricsShardOf = (namespace: Namespace, shard: number): MetricsApi =>
  namespace.get(namespace.idFromName(`metrics-${shard}`)) as unknown as MetricsApi;

export function metricsShardCount(configured: string | undefined): number {
  const shards = Number(configured ?? DEFAULT_METRICS_SHARDS);
  return Number.isInteger(shards) && shards >= 1 && shards <= 64 ? shards : DEFAULT_METRICS_SHARDS;
}
