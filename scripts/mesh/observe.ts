/** The CLI's observability commands: objectives and their error budgets, alerts, the rule file export. */
import { writeFileSync } from "node:fs";
import { call, CliError, expectOk } from "./client.ts";
import { printable } from "./print.ts";

interface Objective {
  id: string;
  type: string;
  target: number;
  windowDays: number;
  total: number;
  bad: number;
  errorBudgetRemaining: number;
  burnRates: Record<string, number>;
}
interface Alert {
  id: string;
  severity: string;
  state: string;
  since: number | null;
  summary: string;
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

export const observeCommands = (args: string[], flags: { out?: string }): Record<string, () => Promise<void>> => ({
  async slos() {
    const { objectives } = expectOk<{ objectives: Objective[] }>(await call("GET", "/slos"));
    if (!objectives.length) return console.log("no ServiceLevelObjective in the current configuration");
    for (const slo of objectives) {
      const burns = Object.entries(slo.burnRates).map(([window, rate]) => `${window} ${rate.toFixed(2)}x`).join("  ");
      console.log(`${printable(slo.id)}  ${slo.type} ${slo.target}% over ${slo.windowDays}d: ${slo.bad} bad of ${slo.total}, error budget left ${percent(slo.errorBudgetRemaining)}`);
      console.log(`  burn rate: ${burns}`);
    }
  },
  async alerts() {
    if (args[0] === "export") {
      const { file, objectives } = expectOk<{ file: string; objectives: number }>(await call("GET", "/alerts/rules?format=json"));
      if (!flags.out) return void process.stdout.write(file);
      try {
        writeFileSync(flags.out, file);
      } catch (error) {
        throw new CliError(`cannot write ${flags.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      return console.log(`wrote ${objectives} objective(s)' rules to ${flags.out} (check with: promtool check rules ${flags.out})`);
    }
    if (args[0] !== undefined) throw new CliError("usage: alerts [export [--out file]]");
    const { alerts } = expectOk<{ alerts: Alert[] }>(await call("GET", "/alerts"));
    if (!alerts.length) return console.log("no alerts: no ServiceLevelObjective in the current configuration");
    for (const alert of alerts) {
      const since = alert.since ? ` since ${new Date(alert.since).toISOString()}` : "";
      console.log(`${alert.state === "firing" ? "FIRING  " : "inactive"} ${alert.severity.padEnd(9)} ${printable(alert.id)}${since}\n  ${printable(alert.summary)}`);
    }
  },
});
