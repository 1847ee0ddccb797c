/** The mesh's metrics, summed across isolates: the Prometheus exposition at /admin/metrics. */
import { createRoute, z } from "@hono/zod-openapi";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../../../common/metrics/exposition.ts";
import { metricsShardCount, metricsShardOf, type MetricsApi } from "../../../common/metrics/protocol.ts";
import { MetricStore, type SeriesEntry } from "../../../common/metrics/store.ts";
import { AdminError, type AdminApp, type AdminDeps, type AdminEnv } from "../context.ts";
import { traceSampleRatio } from "../../gateway/tracing/config.ts";
import { serviceGraph } from "../graph.ts";
import { json } from "../schemas.ts";

/** What `read` gives from each shard, all shards at once. */
export async function meshShards<T>(env: AdminEnv, read: (shard: MetricsApi) => Promise<T>): Promise<T[]> {
  if (!env.METRICS) throw new AdminError(503, "no_control_plane", "this deployment has no METRICS binding: metrics need the control plane");
  const namespace = env.METRICS;
  return Promise.all(Array.from({ length: metricsShardCount(env.METRICS_SHARDS) }, (_, shard) => read(metricsShardOf(namespace, shard))));
}

/** Every shard's series, merged: what the views read. */
export async function meshMetrics(env: AdminEnv, read: (shard: MetricsApi) => Promise<SeriesEntry[]>): Promise<MetricStore> {
  return storeOf(await meshShards(env, read));
}

/** Series in a store of their own, unbounded: each shard already bounds its own. */
function storeOf(shards: readonly SeriesEntry[][]): MetricStore {
  const store = new MetricStore(Infinity);
  for (const entries of shards) store.merge(entries);
  return store;
}

const Quantiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });
const Graph = z
  .object({
    windowSeconds: z.number(),
    nodes: z.array(z.object({ id: z.string() })),
    edges: z.array(
      z.object({ source: z.string(), destination: z.string(), service: z.string(), requests: z.number(), requestsPerSecond: z.number(), successRate: z.number(), latencySeconds: Quantiles }),
    ),
    others: z.object({ edges: z.number(), requests: z.number() }).optional(),
  })
  .openapi("ServiceGraph");

const GraphQuery = z.object({
  window: z.coerce.number().int().min(1).max(24 * 60).default(5).openapi({ description: "minutes of traffic, 1 to 1440 (default 5)" }),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "edges listed, busiest first; the rest are summed (default 50)" }),
});

const TraceStats = z
  .object({
    endpoint: z.string().nullable().openapi({ description: "OTEL_EXPORTER_OTLP_ENDPOINT, or null: no export" }),
    sampleRatio: z.number(),
    queued: z.number(),
    exporting: z.boolean(),
    dropped: z.number().openapi({ description: "spans dropped by this isolate because its queue was full" }),
  })
  .openapi("TraceStats");

export function metricsRoutes(app: AdminApp, { isolate }: AdminDeps): void {
  app.openapi(
    createRoute({ method: "get", path: "/traces/stats", tags: ["observability"], summary: "This isolate's trace export: queue, drops, sampling", responses: { 200: json(TraceStats, "stats") } }),
    (c) => {
      const { spans, exporting, dropped } = isolate.traces;
      return c.json({ endpoint: c.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null, sampleRatio: traceSampleRatio(c.env), queued: spans.length, exporting, dropped }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/graph", tags: ["observability"], summary: "The service graph from observed traffic: edges source → destination with rate, success and latency", request: { query: GraphQuery }, responses: { 200: json(Graph, "the graph") } }),
    async (c) => {
      const { window, limit } = c.req.valid("query");
      const now = Date.now();
      const sinceMs = now - window * 60_000;
      const store = await meshMetrics(c.env, (shard) => shard.window(sinceMs));
      // The shards sum whole minutes, from the one `sinceMs` falls in to the current one (partly gone):
      // rates are over that span, not the window asked for, which it exceeds by up to a minute.
      const coveredSeconds = (now - Math.floor(sinceMs / 60_000) * 60_000) / 1000;
      return c.json(serviceGraph(store, coveredSeconds, limit, (service) => isolate.identity.destinationId(c.env, service)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["observability"],
      summary: "Golden metrics of the whole mesh in the Prometheus text format (every isolate's, summed per metrics shard, with a shard label)",
      responses: { 200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } } },
    }),
    async (c) => {
      // Per shard (a `shard` label), not summed: each shard's counters reset on their own (exposition.ts).
      const shards = (await meshShards(c.env, (shard) => shard.totals())).map((entries) => storeOf([entries]));
      return c.text(renderPrometheus(shards), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    },
  );
}
