/** ServiceLevelObjectives and alerts: state and error budgets from the AlertEvaluator, and the Prometheus rule file. */
import { createRoute, z } from "@hono/zod-openapi";
import { alertsOf } from "../../../common/metrics/protocol.ts";
import { ServiceLevelObjective } from "../../../policies/schema/index.ts";
import { AdminError, configStore, type AdminApp, type AdminEnv } from "../context.ts";
import { json } from "../schemas.ts";
import { sloRuleFile } from "../slo-rules.ts";

const Objective = z
  .object({
    id: z.string(),
    backend: z.string(),
    route: z.string().nullable(),
    type: z.enum(["Availability", "Latency"]),
    target: z.number(),
    thresholdSeconds: z.number().nullable(),
    windowDays: z.number(),
    total: z.number(),
    bad: z.number(),
    errorBudgetRemaining: z.number(),
    burnRates: z.record(z.string(), z.number()),
    webhook: z.string().nullable(),
  })
  .openapi("ObjectiveStatus");
const Alert = z
  .object({
    id: z.string(),
    objective: z.string(),
    alert: z.string(),
    severity: z.enum(["page", "ticket", "threshold"]),
    state: z.enum(["firing", "inactive"]),
    since: z.number().nullable(),
    value: z.number().nullable(),
    summary: z.string(),
  })
  .openapi("AlertState");
const Status = z.object({ evaluatedAt: z.number().nullable(), objectives: z.array(Objective), alerts: z.array(Alert), pendingNotifications: z.number() }).openapi("AlertsStatus");

const evaluator = (env: AdminEnv) => {
  if (!env.ALERTS) throw new AdminError(503, "no_control_plane", "this deployment has no ALERTS binding: objectives need the control plane");
  return alertsOf(env.ALERTS);
};

export function alertRoutes(app: AdminApp): void {
  app.openapi(
    createRoute({ method: "get", path: "/slos", tags: ["observability"], summary: "ServiceLevelObjectives, evaluated now: error budget remaining, burn rates, alerts", responses: { 200: json(Status, "objectives and alerts") } }),
    async (c) => c.json(await evaluator(c.env).status(), 200),
  );
  app.openapi(
    createRoute({ method: "get", path: "/alerts", tags: ["observability"], summary: "Alert state, evaluated now", responses: { 200: json(z.object({ alerts: z.array(Alert), evaluatedAt: z.number().nullable() }), "alerts") } }),
    async (c) => {
      const { alerts, evaluatedAt } = await evaluator(c.env).status();
      return c.json({ alerts, evaluatedAt }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/alerts/rules",
      tags: ["observability"],
      summary: "The objectives' alerts as a Prometheus rule file (YAML; with ?format=json, the file in a JSON object)",
      request: { query: z.object({ format: z.enum(["yaml", "json"]).default("yaml") }) },
      responses: {
        200: { description: "a Prometheus rule file", content: { "application/yaml": { schema: z.string() }, "application/json": { schema: z.object({ file: z.string(), objectives: z.number() }) } } },
      },
    }),
    async (c) => {
      const snapshot = await configStore(c.env).snapshot();
      const objectives = snapshot.documents.flatMap((document) => {
        const parsed = (document as { kind?: unknown }).kind === "ServiceLevelObjective" ? ServiceLevelObjective.safeParse(document) : undefined;
        return parsed?.success ? [parsed.data] : [];
      });
      const file = sloRuleFile(objectives);
      if (c.req.valid("query").format === "json") return c.json({ file, objectives: objectives.length }, 200);
      return c.text(file, 200, { "content-type": "application/yaml; charset=utf-8" });
    },
  );
}
