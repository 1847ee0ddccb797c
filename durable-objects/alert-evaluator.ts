/**
 * AlertEvaluator: evaluates the mesh's ServiceLevelObjectives on the metrics shards' minute counts,
 * keeps each alert's state, and notifies a webhook when one fires or resolves. It runs by alarm, every
 * ALERT_EVALUATION_INTERVAL_MS (1 min) and only while there is something to evaluate: objectives in
 * the current configuration, an alert firing, or a notification waiting; otherwise the alarm is not
 * set again, and the metrics shards wake the object when traffic is reported. Notifications (the
 * Alertmanager webhook's JSON shape) are retried with backoff, up to MAX_DELIVERIES times.
 */
import { DurableObject } from "cloudflare:workers";
import { redactUrl } from "../common/redact-url.ts";
import { withTimeout } from "../common/with-timeout.ts";
import { metricsShardCount, metricsShardOf, type AlertState, type AlertsApi, type AlertsStatus, type ObjectiveStatus, type SloCounts } from "../common/metrics/protocol.ts";
import { configStoreOf, coordinatorOf, type Namespace } from "../common/protocol.ts";
import { qualifiedName } from "../policies/qualified-name.ts";
import { ServiceLevelObjective } from "../policies/schema/index.ts";
import { evaluateObjective, windowsOf } from "./slo-evaluation.ts";

export interface AlertEvaluatorEnv {
  CONFIG_STORE?: Namespace;
  BACKEND_COORDINATOR?: Namespace;
  METRICS?: Namespace;
  METRICS_SHARDS?: string;
  ALERT_EVALUATION_INTERVAL_MS?: string;
}

const DEFAULT_INTERVAL_MS = 60_000;
const MAX_DELIVERIES = 6;
const DELIVERY_TIMEOUT_MS = 5_000;

/** Evaluations run one at a time: a call that never answers must not hold up every later one. */
const CALL_TIMEOUT_MS = 5_000;

export class AlertEvaluator extends DurableObject<AlertEvaluatorEnv> implements AlertsApi {
  private readonly sql: SqlStorage;
  private evaluatedAt: number | null = null;
  private objectives: ObjectiveStatus[] = [];
  private evaluating: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: AlertEvaluatorEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS alerts (id TEXT PRIMARY KEY, objective TEXT NOT NULL, alert TEXT NOT NULL, severity TEXT NOT NULL,
      state TEXT NOT NULL, since INTEGER, value REAL, summary TEXT NOT NULL)`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, body TEXT NOT NULL,
      deliveries INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)`);
    // Where an alert's notifications went, so a firing one whose objective is removed can be resolved there.
    if (!this.sql.exec("SELECT * FROM alerts LIMIT 0").columnNames.includes("webhook")) this.sql.exec("ALTER TABLE alerts ADD COLUMN webhook TEXT");
  }

  private get intervalMs(): number {
    const interval = Number(this.env.ALERT_EVALUATION_INTERVAL_MS ?? DEFAULT_INTERVAL_MS);
    return Number.isFinite(interval) && interval >= 100 ? interval : DEFAULT_INTERVAL_MS;
  }

  async wake(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.intervalMs);
  }

  async status(): Promise<AlertsStatus> {
    await this.evaluateInTurn();
    return this.describe();
  }

  override async alarm(): Promise<void> {
    const active = await this.evaluateInTurn();
    await this.deliver();
    const pending = this.sql.exec<{ n: number; next: number | null }>("SELECT COUNT(*) AS n, MIN(next_at) AS next FROM notifications").one();
    if (active || pending.n > 0) {
      const next = Date.now() + this.intervalMs;
      await this.ctx.storage.setAlarm(pending.next !== null ? Math.min(next, Math.max(Date.now() + 50, pending.next)) : next);
    }
  }

  /**
   * One evaluation at a time: an evaluation awaits the ConfigStore and the shards, and two interleaved
   * (a status read during the alarm's) could act on objectives the other has already swept.
   */
  private evaluateInTurn(): Promise<boolean> {
    const next = this.evaluating.then(() => this.evaluate());
    this.evaluating = next.catch(() => false);
    return next;
  }

  /** Evaluates every objective; whether anything is left to watch (objectives, or an alert firing). */
  private async evaluate(): Promise<boolean> {
    const now = Date.now();
    const slos = await this.loadObjectives();
    const objectives: ObjectiveStatus[] = [];
    const seen = new Set<string>();
    for (const slo of slos) {
      const { namespace, name } = slo.metadata;
      const qualified = (object: string) => qualifiedName(namespace, object);
      const { names, sinceMs } = windowsOf(slo, now);
      const counts = await this.counts(qualified(slo.spec.backend), slo.spec.route && qualified(slo.spec.route), sinceMs);
      const byWindow = Object.fromEntries(names.map((window, i) => [window, counts[i]!]));
      const { status, checks } = evaluateObjective(slo, byWindow, slo.spec.alerts.thresholds.some((t) => t.type === "Ejections") ? await this.ejected(qualified(slo.spec.backend)) : 0);
      const id = `${namespace}/${name}`;
      objectives.push({ id, ...status, webhook: slo.spec.notify?.webhook ?? null });
      for (const check of checks) {
        const alertId = `${id}/${check.alert}`;
        seen.add(alertId);
        this.transition({ id: alertId, objective: id, alert: check.alert, severity: check.severity, state: check.firing ? "firing" : "inactive", since: null, value: check.value, summary: check.summary }, now, slo.spec.notify?.webhook);
      }
    }
    // Alerts of objectives (or thresholds) no longer configured are dropped; a firing one is resolved
    // first, so its receiver does not keep an incident open for good.
    type Saved = { id: string; objective: string; alert: string; severity: string; state: string; since: number | null; value: number | null; summary: string; webhook: string | null };
    for (const saved of this.sql.exec<Saved>("SELECT * FROM alerts").toArray()) {
      if (seen.has(saved.id)) continue;
      if (saved.state === "firing" && saved.webhook) {
        const summary = `${saved.summary} (resolved: the objective or threshold was removed)`;
        this.enqueue(saved.webhook, { ...saved, severity: saved.severity as AlertState["severity"], state: "inactive", since: now, summary }, saved.since ?? now, now);
      }
      this.sql.exec("DELETE FROM alerts WHERE id = ?", saved.id);
    }
    this.objectives = objectives;
    this.evaluatedAt = now;
    const firing = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM alerts WHERE state = 'firing'").one().n;
    return slos.length > 0 || firing > 0;
  }

  private transition(next: AlertState, now: number, webhook: string | undefined): void {
    const saved = this.sql.exec<{ state: string; since: number | null }>("SELECT state, since FROM alerts WHERE id = ?", next.id).toArray()[0];
    const changed = (saved?.state ?? "inactive") !== next.state;
    const since = changed ? now : (saved?.since ?? null);
    this.sql.exec(
      "INSERT OR REPLACE INTO alerts (id, objective, alert, severity, state, since, value, summary, webhook) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      next.id, next.objective, next.alert, next.severity, next.state, since, next.value, next.summary, webhook ?? null,
    );
    if (changed && webhook) this.enqueue(webhook, { ...next, since }, saved?.since ?? now, now);
  }

  /** An Alertmanager-shaped webhook body (version 4), so existing receivers read it. */
  private enqueue(url: string, alert: AlertState, startedAt: number, now: number): void {
    const status = alert.state === "firing" ? "firing" : "resolved";
    const body = {
      version: "4",
      status,
      receiver: "edgemesh",
      groupKey: alert.id,
      alerts: [
        {
          status,
          labels: { alertname: alert.alert, objective: alert.objective, severity: alert.severity },
          annotations: { summary: alert.summary },
          startsAt: new Date(status === "firing" ? now : startedAt).toISOString(),
          endsAt: status === "resolved" ? new Date(now).toISOString() : "0001-01-01T00:00:00Z",
          fingerprint: alert.id,
        },
      ],
    };
    this.sql.exec("INSERT INTO notifications (url, body, next_at) VALUES (?, ?, ?)", url, JSON.stringify(body), now);
  }

  private async deliver(): Promise<void> {
    const due = this.sql.exec<{ id: number; url: string; body: string; deliveries: number }>("SELECT id, url, body, deliveries FROM notifications WHERE next_at <= ? ORDER BY id LIMIT 20", Date.now()).toArray();
    for (const notification of due) {
      let ok = false;
      try {
        const response = await fetch(notification.url, { method: "POST", headers: { "content-type": "application/json" }, body: notification.body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS), redirect: "manual" });
        await response.body?.cancel();
        ok = response.ok;
      } catch {
        ok = false;
      }
      const deliveries = notification.deliveries + 1;
      if (ok || deliveries >= MAX_DELIVERIES) {
        // The webhook URL is a secret (redact.ts): logs get its origin.
        if (!ok) console.error(JSON.stringify({ level: "warn", message: "alert notification dropped after retries", url: redactUrl(notification.url), deliveries }));
        this.sql.exec("DELETE FROM notifications WHERE id = ?", notification.id);
      } else {
        // 1 s, 2 s, 4 s... between tries.
        this.sql.exec("UPDATE notifications SET deliveries = ?, next_at = ? WHERE id = ?", deliveries, Date.now() + 1_000 * 2 ** (deliveries - 1), notification.id);
      }
    }
  }

  private async loadObjectives(): Promise<ServiceLevelObjective[]> {
    if (!this.env.CONFIG_STORE) return [];
    const snapshot = await withTimeout(configStoreOf(this.env.CONFIG_STORE).snapshot(), CALL_TIMEOUT_MS);
    const objectives: ServiceLevelObjective[] = [];
    for (const document of snapshot.documents) {
      if ((document as { kind?: unknown }).kind !== "ServiceLevelObjective") continue;
      // Checked at apply; parsed again here for the defaults (a snapshot from another deploy's schemas).
      const parsed = ServiceLevelObjective.safeParse(document);
      if (parsed.success) objectives.push(parsed.data);
    }
    return objectives;
  }

  private async counts(service: string, route: string | undefined, sinceMs: number[]): Promise<SloCounts[]> {
    const namespace = this.env.METRICS;
    const empty = () => sinceMs.map(() => ({ total: 0, errors: 0, buckets: [] as number[] }));
    if (!namespace) return empty();
    const shards = await Promise.all(Array.from({ length: metricsShardCount(this.env.METRICS_SHARDS) }, (_, shard) => withTimeout(metricsShardOf(namespace, shard).sloCounts({ service, route, sinceMs }), CALL_TIMEOUT_MS)));
    const sum = empty();
    for (const shard of shards) {
      shard.forEach((counts, w) => {
        const into = sum[w]!;
        into.total += counts.total;
        into.errors += counts.errors;
        counts.buckets.forEach((count, i) => (into.buckets[i] = (into.buckets[i] ?? 0) + count));
      });
    }
    return sum;
  }

  /** Endpoints of the backend its coordinator holds ejected now; 0 when it cannot say. */
  private async ejected(backend: string): Promise<number> {
    if (!this.env.BACKEND_COORDINATOR) return 0;
    try {
      const { endpoints } = await withTimeout(coordinatorOf(this.env.BACKEND_COORDINATOR, backend).snapshot(), CALL_TIMEOUT_MS);
      return Object.values(endpoints).filter((endpoint) => endpoint.state === "ejected" && endpoint.until > Date.now()).length;
    } catch {
      return 0;
    }
  }

  private describe(): AlertsStatus {
    const alerts = this.sql
      .exec<{ id: string; objective: string; alert: string; severity: AlertState["severity"]; state: AlertState["state"]; since: number | null; value: number | null; summary: string }>("SELECT * FROM alerts ORDER BY id")
      .toArray()
      // Every column but the webhook (a secret, and the objective's own to show).
      .map(({ id, objective, alert, severity, state, since, value, summary }) => ({ id, objective, alert, severity, state, since, value, summary }));
    const pending = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM notifications").one().n;
    return { evaluatedAt: this.evaluatedAt, objectives: this.objectives, alerts, pendingNotifications: pending };
  }
}
