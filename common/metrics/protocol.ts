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
  /**
   * The reporting isolate (random, per isolate) and its report's number: a report sent again after a
   * failed or timed-out call keeps both, so a shard that took it already does not count it twice.
   * Optional: isolates of earlier deploys send neither.
   */
  source?: string;
  seq?: number;
  /**
   * Earlier reports of the same source whose calls failed, oldest first, sent again with this one:
   * the shard takes those it has not (by seq). Each flush sends them all in one call, so a shard that
   * answers too late for every call still gets every report, once.
   */
  earlier?: MetricsReport[];
}

/** Requests to one destination (and route) over several windows, for SLOs and alerts. */
export interface SloCountsQuery {
  service: string;
  /** Only this route's calls ("ns/name" or "name" in default), or every route's. */
  route?: string;
  /** Each window's start, epoch milliseconds. */
  sinceMs: number[];
}

export interface SloCounts {
  total: number;
  /** Answers of 500 and above. */
  errors: number;
  /** The request-duration histogram's per-bucket counts (not cumulative, +Inf last). */
  buckets: number[];
}

export interface MetricsApi {
  /** Per window of the query, in its order. */
  sloCounts(query: SloCountsQuery): Promise<SloCounts[]>;
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

// --- AlertEvaluator ----------------------------------------------------------------------------

export interface AlertState {
  /** "<namespace>/<objective>/<alert>": page, ticket, or a threshold's name. */
  id: string;
  objective: string;
  alert: string;
  severity: "page" | "ticket" | "threshold";
  state: "firing" | "inactive";
  /** When it last changed state (epoch ms); null before it ever fired. */
  since: number | null;
  /** What was measured at the last evaluation (a burn rate, an error ratio, a latency in seconds). */
  value: number | null;
  summary: string;
}

export interface ObjectiveStatus {
  /** "<namespace>/<name>". */
  id: string;
  backend: string;
  route: string | null;
  type: "Availability" | "Latency";
  /** Percent of good events. */
  target: number;
  thresholdSeconds: number | null;
  windowDays: number;
  /** Over the objective's window. */
  total: number;
  bad: number;
  /** 1 - (bad ratio / allowed bad ratio): 1 untouched, 0 spent, below 0 overspent. */
  errorBudgetRemaining: number;
  /** Burn rate per alerting window ("5m", "30m", "1h", "6h", "3d"): bad ratio / allowed bad ratio. */
  burnRates: Record<string, number>;
  webhook: string | null;
}

export interface AlertsStatus {
  evaluatedAt: number | null;
  objectives: ObjectiveStatus[];
  alerts: AlertState[];
  /** Notifications waiting to be (re)delivered. */
  pendingNotifications: number;
}

export interface AlertsApi {
  /** Makes sure an evaluation is scheduled (called by the metrics shards as traffic is reported). */
  wake(): Promise<void>;
  /** Evaluates now and answers the state. */
  status(): Promise<AlertsStatus>;
}

export const alertsOf = (namespace: Namespace): AlertsApi => namespace.get(namespace.idFromName("alerts")) as unknown as AlertsApi;
