/**
 * ServiceLevelObjectives: error budgets and burn rates from the aggregated metrics, the SRE
 * workbook's page and ticket alerts and threshold alerts, evaluated by the AlertEvaluator's alarm,
 * notified to a webhook with retries; the same rules as a Prometheus rule file promtool accepts.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { Upstream } from "../support/upstream.ts";
import { waitFor } from "../support/wait.ts";

interface Notification {
  status: "firing" | "resolved";
  alerts: { status: string; labels: Record<string, string>; annotations: { summary: string } }[];
}

let up: Upstream;
let mesh: TestGateway;
let receiver: Server;
const notifications: Notification[] = [];
let refuseNext = 1;

const objective = (webhook: string) => ({
  apiVersion: "edgemesh.dev/v1alpha1",
  kind: "ServiceLevelObjective",
  metadata: { name: "up-availability" },
  spec: {
    backend: "up",
    objective: { type: "Availability", target: 99 },
    window: "28d",
    alerts: { thresholds: [{ type: "ErrorRatio", name: "errors-over-20pct", above: 0.2, window: "5m" }, { type: "LatencyQuantile", name: "p99-over-5s", quantile: 0.99, above: "5s" }] },
    notify: { webhook },
  },
});

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk));
    request.on("end", () => {
      // The first delivery fails: the evaluator must retry it.
      if (refuseNext > 0) {
        refuseNext--;
        return void response.writeHead(503).end();
      }
      notifications.push(JSON.parse(body) as Notification);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?team=edge`;
  up = await Upstream.start("up");
  mesh = await TestGateway.start([backend("up", [up.url]), simpleRoute("shop", "shop.test", "up"), objective(webhook)], {
    isolates: 1,
    vars: { METRICS_FLUSH_INTERVAL_MS: "100", ALERT_EVALUATION_INTERVAL_MS: "200" },
  });
});

afterAll(async () => {
  await mesh?.dispose();
  await up?.close();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

interface Status {
  objectives: { id: string; total: number; bad: number; errorBudgetRemaining: number; burnRates: Record<string, number> }[];
  alerts: { id: string; state: string; severity: string; value: number | null }[];
}

const status = async () => (await mesh.admin<Status>("GET", "/slos")).body;
const send = async (count: number) => {
  for (let i = 0; i < count; i++) await mesh.fetch("http://shop.test/");
};

describe("service level objectives", () => {
  it("reports a full error budget and no alert while every request succeeds", async () => {
    await send(20);
    let current: Status | undefined;
    await waitFor("20 requests counted", async () => (current = await status()).objectives[0]?.total === 20, { timeoutMs: 15_000, intervalMs: 100 });
    expect(current!.objectives[0]).toMatchObject({ id: "default/up-availability", bad: 0, errorBudgetRemaining: 1 });
    expect(current!.alerts.map((alert) => [alert.id, alert.state])).toEqual([
      ["default/up-availability/errors-over-20pct", "inactive"],
      ["default/up-availability/p99-over-5s", "inactive"],
      ["default/up-availability/page", "inactive"],
      ["default/up-availability/ticket", "inactive"],
    ]);
  });

  it("fires page, ticket and the error-ratio threshold when errors burn the budget, and notifies the webhook (retrying a failed delivery)", async () => {
    up.failNext(30, 500);
    await send(30);
    let current: Status | undefined;
    await waitFor("30 errors counted", async () => (current = await status()).objectives[0]?.bad === 30, { timeoutMs: 15_000, intervalMs: 100 });
    const [slo] = current!.objectives;
    // 30 bad of 50 = 60 %, against 1 % allowed: 60x in every window.
    expect(slo!.burnRates["5m"]).toBeCloseTo(60, 6);
    expect(slo!.burnRates["3d"]).toBeCloseTo(60, 6);
    expect(slo!.errorBudgetRemaining).toBeCloseTo(1 - 60, 6);
    const states = Object.fromEntries(current!.alerts.map((alert) => [alert.id.split("/").at(-1), alert.state]));
    expect(states).toEqual({ page: "firing", ticket: "firing", "errors-over-20pct": "firing", "p99-over-5s": "inactive" });
    await waitFor("three firing notifications delivered", () => notifications.filter((n) => n.status === "firing").length === 3, { timeoutMs: 20_000, intervalMs: 50 });
    expect(refuseNext).toBe(0); // the refused first delivery was retried
    const page = notifications.find((n) => n.alerts[0]!.labels.alertname === "page")!;
    expect(page.alerts[0]).toMatchObject({ status: "firing", labels: { objective: "default/up-availability", severity: "page" } });
    expect(page.alerts[0]!.annotations.summary).toContain("14.4x");
  });

  it("resolves the threshold alert once the error ratio falls back, and says so to the webhook", async () => {
    await send(110); // 30 of 160 = 18.75 %: under 20 %, still 18.75x the budget (page stays).
    // All 160 counted before anything reads them: the threshold alert resolves from about 151 on,
    // and a loaded machine can leave the last flushes behind (the CLI test below reads 160).
    await waitFor("160 requests counted", async () => (await status()).objectives[0]?.total === 160, { timeoutMs: 15_000, intervalMs: 100 });
    await waitFor("the resolved notification", () => notifications.some((n) => n.status === "resolved" && n.alerts[0]!.labels.alertname === "errors-over-20pct"), { timeoutMs: 20_000, intervalMs: 50 });
    const states = Object.fromEntries((await status()).alerts.map((alert) => [alert.id.split("/").at(-1), alert.state]));
    expect(states).toMatchObject({ page: "firing", "errors-over-20pct": "inactive" });
  });

  it.runIf(existsSync("/usr/bin/promtool"))("exports the same rules as a Prometheus rule file that promtool check rules accepts", async () => {
    const response = await mesh.fetch("http://admin.test/admin/alerts/rules", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("edgemesh:slo_bad_ratio:rate1h");
    expect(text).toContain('destination_service="up"');
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-rules-"));
    try {
      writeFileSync(join(dir, "rules.yml"), text);
      const output = execFileSync("/usr/bin/promtool", ["check", "rules", join(dir, "rules.yml")], { encoding: "utf8" });
      expect(output).toMatch(/SUCCESS: 9 rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the CLI shows objectives and alerts, and exports the rule file", async () => {
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/mesh/index.ts", ...args], { env: { ...process.env, MESH_ADMIN_URL: gatewayUrl, MESH_ADMIN_TOKEN: ADMIN_TOKEN }, timeout: 20_000 });
    const gatewayUrl = await mesh.url();
    const slos = await cli(["slos"]);
    expect(slos.stdout).toMatch(/^default\/up-availability  Availability 99% over 28d: 30 bad of 160, error budget left -1775\.0%/m);
    expect(slos.stdout).toMatch(/burn rate: 5m 18\.75x/);
    const alerts = await cli(["alerts"]);
    expect(alerts.stdout).toMatch(/^FIRING +page +default\/up-availability\/page since /m);
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-rules-"));
    try {
      const exported = await cli(["alerts", "export", "--out", join(dir, "rules.yml")]);
      expect(exported.stdout).toContain("wrote 1 objective(s)' rules");
      expect(readFileSync(join(dir, "rules.yml"), "utf8")).toContain("EdgemeshSloErrorBudgetBurnPage");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("resolves the alerts still firing when their objective is removed, at the webhook they went to", async () => {
    const firing = (await status()).alerts.filter((alert) => alert.state === "firing").map((alert) => alert.id.split("/").at(-1));
    expect(firing).toContain("page");
    const before = notifications.length;
    expect((await mesh.admin("POST", "/config/apply", { documents: [backend("up", [up.url]), simpleRoute("shop", "shop.test", "up")] })).status).toBe(200);
    await waitFor("a resolved notification for every alert that was firing", () => firing.every((name) => notifications.slice(before).some((n) => n.status === "resolved" && n.alerts[0]!.labels.alertname === name)), { timeoutMs: 20_000, intervalMs: 50 });
    const page = notifications.slice(before).find((n) => n.alerts[0]!.labels.alertname === "page")!;
    expect(page.alerts[0]!.annotations.summary).toContain("resolved: the objective or threshold was removed");
    expect((await status()).alerts).toEqual([]);
  });
});
