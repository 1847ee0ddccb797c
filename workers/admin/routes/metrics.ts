/** The mesh's metrics, summed across isolates: the Prometheus exposition at /admin/metrics. */
import { createRoute, z } from "@hono/zod-openapi";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../../../common/metrics/exposition.ts";
import { metricsShardCount, metricsShardOf } from "../../../common/metrics/protocol.ts";
import { MetricStore, type SeriesEntry } from "../../../common/metrics/store.ts";
import { AdminError, type AdminApp, type AdminEnv } from "../context.ts";

/** Every shard's series, merged: what the exposition and the views read. */
export async function meshMetrics(env: AdminEnv, read: (shard: ReturnType<typeof metricsShardOf>) => Promise<SeriesEntry[]>): Promise<MetricStore> {
  if (!env.METRICS) throw new AdminError(503, "no_control_plane", "this deployment has no METRICS binding: metrics need the control plane");
  const namespace = env.METRICS;
  const shards = await Promise.all(Array.from({ length: metricsShardCount(env.METRICS_SHARDS) }, (_, shard) => read(metricsShardOf(namespace, shard))));
  // Unbounded here: each shard already bounds its own series.
  const store = new MetricStore(Infinity);
  for (const entries of shards) store.merge(entries);
  return store;
}

export function metricsRoutes(app: AdminApp): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["observability"],
      summary: "Golden metrics of the whole mesh in the Prometheus text format (every isolate's, summed)",
      responses: { 200: { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: z.string() } } } },
    }),
    async (c) => {
      const store = await meshMetrics(c.env, (shard) => shard.totals());
      return c.text(renderPrometheus(store), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    },
  );
}
