/** results.json, the table, and the ratios against the project's target (printed last). */
import { writeFileSync } from "node:fs";
import type { TargetName } from "./check.ts";

export interface Row {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p50_c1_ms: number;
}

export type Results = Record<TargetName, Row> & { meta: Record<string, unknown> };

/** The project's target: gateway >= 0.9x pass-through throughput, p50 at one connection within 0.1 ms. */
const MIN_THROUGHPUT_RATIO = 0.9;
const MAX_P50_C1_DELTA_MS = 0.1;

export function writeResults(path: string, results: Results): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

export function printReport(results: Results): void {
  const names: TargetName[] = ["direct", "passthrough", "gateway", "gateway_nolog"];
  const cpu = (results.meta.workerd_cpu_us_per_request ?? {}) as Partial<Record<TargetName, number>>;
  const columns = ["target", "req/s", "p50 ms", "p99 ms", "p50@c1 ms", "workerd CPU us/req"];
  const rows = names.map((name) => {
    const r = results[name];
    return [name, String(r.rps), r.p50_ms.toFixed(3), r.p99_ms.toFixed(3), r.p50_c1_ms.toFixed(3), String(cpu[name] ?? "-")];
  });
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log(`\n${line(columns)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of rows) console.log(line(row));

  const { direct, passthrough, gateway, gateway_nolog: nolog } = results;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const ms = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(3)} ms`;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  const throughput = gateway.rps / passthrough.rps;
  const delta = gateway.p50_c1_ms - passthrough.p50_c1_ms;

  const us = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? "-" : `${a - b >= 0 ? "+" : ""}${a - b} us`);
  console.log(`\naccess log cost: gateway_nolog/gateway throughput ${ratio(nolog.rps, gateway.rps)}, ` +
    `p50@c1 gateway - gateway_nolog ${ms(gateway.p50_c1_ms - nolog.p50_c1_ms)}, CPU per request ${us(cpu.gateway, cpu.gateway_nolog)}`);
  if (cpu.gateway !== undefined && cpu.passthrough !== undefined) {
    console.log(`workerd CPU per request: gateway ${us(cpu.gateway, cpu.passthrough)} over passthrough ` +
      `(passthrough/gateway ${ratio(cpu.passthrough, cpu.gateway)}: the throughput ratio if workerd's CPU is the limit)`);
  }
  console.log("");
  console.log(`gateway / passthrough throughput:      ${ratio(gateway.rps, passthrough.rps)}  ` +
    `(target >= ${MIN_THROUGHPUT_RATIO}x: ${met(throughput >= MIN_THROUGHPUT_RATIO)})`);
  console.log(`gateway p50@c1 - passthrough p50@c1:   ${ms(delta)}  (target <= ${MAX_P50_C1_DELTA_MS} ms: ${met(delta <= MAX_P50_C1_DELTA_MS)})`);
  console.log(`passthrough / direct throughput:       ${ratio(passthrough.rps, direct.rps)}`);
}
