/**
 * The JSON views the dashboard reads beside the others: one service's golden metrics per minute,
 * route level against attempt level per service, and this isolate's recent requests.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type AdminApp, type AdminDeps } from "../context.ts";
import { minuteSeries, serviceTotals } from "../golden.ts";
import { json } from "../schemas.ts";
import { meshMetrics, meshShards } from "./metrics.ts";

const Quantiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });
const Series = z
  .object({
    service: z.string().nullable(),
    points: z.array(z.object({ at: z.number(), requests: z.number(), successRate: z.number().nullable(), requestsPerSecond: z.number(), latencySeconds: Quantiles })),
  })
  .openapi("MetricSeries");

const SeriesQuery = z.object({
  service: z.string().min(1).max(253).optional().openapi({ description: "a destination service (a Backend's name); absent: the whole mesh" }),
  minutes: z.coerce.number().int().min(1).max(24 * 60).default(60).openapi({ description: "minutes back from now, 1 to 1440 (default 60)" }),
});

const Services = z
  .object({
    services: z.array(
      z.object({ service: z.string(), requests: z.number(), requestFailures: z.number(), attempts: z.number(), attemptFailures: z.number(), retries: z.number(), rateLimited: z.number() }),
    ),
  })
  .openapi("ServiceTotals");

const Recent = z
  .object({
    scope: z.literal("isolate"),
    capacity: z.number(),
    requests: z.array(
      z.object({
        at: z.number(),
        requestId: z.string(),
        traceId: z.string(),
        sampled: z.boolean(),
        method: z.string(),
        host: z.string(),
        path: z.string(),
        route: z.string().nullable(),
        backend: z.string().nullable(),
        status: z.number(),
        reason: z.string().nullable(),
        latencyMs: z.number(),
        attempts: z.number(),
        source: z.string().nullable(),
      }),
    ),
  })
  .openapi("RecentRequests");

export function dashboardRoutes(app: AdminApp, { isolate }: AdminDeps): void {
  app.openapi(
    createRoute({ method: "get", path: "/metrics/series", tags: ["observability"], summary: "Golden metrics minute by minute: requests, success rate, rate, p50/p95/p99 (every isolate's)", request: { query: SeriesQuery }, responses: { 200: json(Series, "the series") } }),
    async (c) => {
      const { service, minutes } = c.req.valid("query");
      const now = Date.now();
      const shards = await meshShards(c.env, (shard) => shard.minutes(now - (minutes - 1) * 60_000, service));
      return c.json({ service: service ?? null, points: minuteSeries(shards, minutes, now) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/metrics/services", tags: ["observability"], summary: "Per service since the metrics began: route level (requests) beside attempt level (tries), retries, rate limited", responses: { 200: json(Services, "totals") } }),
    async (c) => c.json({ services: serviceTotals(await meshMetrics(c.env, (shard) => shard.totals())) }, 200),
  );

  app.openapi(
    createRoute({ method: "get", path: "/requests/recent", tags: ["observability"], summary: "This isolate's most recent requests (a ring buffer), newest first, with outcome and trace id", request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) }, responses: { 200: json(Recent, "requests") } }),
    (c) => c.json({ scope: "isolate" as const, capacity: isolate.recent.capacity, requests: isolate.recent.list(c.req.valid("query").limit) }, 200),
  );
}
