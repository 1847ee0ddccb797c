/** results.json, the table, and the ratios and rate-limit figures against the project's targets (printed last). */
import { writeFileSync } from "node:fs";
import type { TargetName } from "./check.ts";
import type { RateLimitResult } from "./rate-limit.ts";
import type { StderrSummary } from "./stderr.ts";
import type { Check, Comparison } from "./targets.ts";

export interface Row {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p50_c1_ms: number;
}

export type Results = Record<TargetName, Row> & {
  comparison: Comparison;
  /** null when BENCH_RATE_LIMIT=off skipped the measurement. */
  rate_limit: RateLimitResult | null;
  meta: Record<string, unknown> };

/** Global rate limit: admissions within 2 % of the limit and never above; <= 1 Durable Object call per 100 requests. */
const MAX_SHORTFALL = 0.02;
const MAX_DO_CALLS_PER_100 = 1;

export function writeResults(path: string, results: Results): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

const met = (ok: boolean, inconclusive?: true) => (inconclusive ? "inconclusive: this run's noise is larger than the target" : ok ? "met" : "NOT met");
const bound = (check: Check, unit = "") => (check.max !== undefined ? `<= ${check.max}${unit}` : `>= ${check.min}${unit}`);
const figure = (value: number | null, suffix = "x") => (value === null ? "-" : `${value.toFixed(2)}${suffix}`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const ms = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(3)} ms`;
const us = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? "-" : `${a - b >= 0 ? "+" : ""}${a - b} us`);

export function printReport(results: Results): void {
  const names: TargetName[] = ["direct", "passthrough", "peer_hono", "gateway", "gateway_nolog", "gateway_plain", "gateway_secure", "gateway_observed"];
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

  const { direct, passthrough, peer_hono: peer, gateway, gateway_nolog: nolog, gateway_plain: plain, gateway_secure: secure, gateway_observed: observed } = results;
  console.log(`\naccess log cost: gateway_nolog/gateway throughput ${ratio(nolog.rps, gateway.rps)}, ` +
    `p50@c1 gateway - gateway_nolog ${ms(gateway.p50_c1_ms - nolog.p50_c1_ms)}, CPU per request ${us(cpu.gateway, cpu.gateway_nolog)}`);
  console.log(`control plane cost (health reports + global rate limit): gateway_plain/gateway throughput ${ratio(plain.rps, gateway.rps)}, ` +
    `p50@c1 gateway - gateway_plain ${ms(gateway.p50_c1_ms - plain.p50_c1_ms)}, CPU per request ${us(cpu.gateway, cpu.gateway_plain)}`);
  console.log(`identity cost (STRICT, workload token, caller token): gateway_secure/gateway throughput ${ratio(secure.rps, gateway.rps)}, ` +
    `p50@c1 gateway_secure - gateway ${ms(secure.p50_c1_ms - gateway.p50_c1_ms)}, CPU per request ${us(cpu.gateway_secure, cpu.gateway)}`);
  console.log(`observability cost (metrics, 10 % traces exported, access log as gateway): gateway_observed/gateway throughput ${ratio(observed.rps, gateway.rps)}, ` +
    `p50@c1 gateway_observed - gateway ${ms(observed.p50_c1_ms - gateway.p50_c1_ms)}, CPU per request ${us(cpu.gateway_observed, cpu.gateway)}`);
  if (cpu.gateway !== undefined && cpu.passthrough !== undefined) {
    console.log(`workerd CPU per request: gateway ${us(cpu.gateway, cpu.passthrough)} over passthrough ` +
      `(passthrough/gateway ${ratio(cpu.passthrough, cpu.gateway)}: the throughput ratio if workerd's CPU is the limit)`);
  }
  if (cpu.gateway !== undefined && cpu.peer_hono !== undefined) {
    console.log(`workerd CPU per request: gateway ${us(cpu.gateway, cpu.peer_hono)} over peer_hono (the Hono proxy a user writes instead)`);
  }
  if (results.rate_limit) printRateLimit(results.rate_limit, results.meta.rate_limit_do_calls_per_100 as Record<string, number> | undefined);
  const stderr = results.meta.workerd_stderr as StderrSummary | undefined;
  if (stderr?.lines) {
    console.log(`\nworkerd wrote ${stderr.lines} lines to stderr (bench/.work/workerd.stderr.log), e.g.:`);
    for (const sample of stderr.samples) console.log(`  ${sample.count} x ${sample.line}`);
  }

  const { gateway_vs_peer_hono: vsPeer, gateway_vs_passthrough: vsPassthrough, gateway_secure_vs_gateway: vsGateway, gateway_observed_vs_gateway: vsObserved, targets } = results.comparison;
  console.log("");
  console.log(`gateway / peer_hono CPU per request:   ${figure(vsPeer.cpu_per_request_ratio)}  ` +
    `(target ${bound(targets.cpu_vs_peer_hono, "x")}: ${met(targets.cpu_vs_peer_hono.met)})`);
  console.log(`gateway / peer_hono throughput:        ${ratio(gateway.rps, peer.rps)}`);
  console.log(`gateway / passthrough CPU per request: ${figure(vsPassthrough.cpu_per_request_ratio)}`);
  console.log(`gateway / passthrough throughput:      ${figure(vsPassthrough.throughput_ratio)}  ` +
    `(target ${bound(targets.throughput_vs_passthrough, "x")}: ${met(targets.throughput_vs_passthrough.met)})`);
  console.log(`gateway p50@c1 - passthrough p50@c1:   ${ms(vsPassthrough.p50_c1_delta_ms)}  ` +
    `(target ${bound(targets.p50_c1_delta_ms, " ms")}: ${met(targets.p50_c1_delta_ms.met)})`);
  const delta = vsGateway.cpu_per_request_delta_us;
  console.log(`gateway_secure - gateway CPU per request: ${delta === null ? "-" : `${delta >= 0 ? "+" : ""}${delta} us`}  ` +
    `(target ${bound(targets.secure_cpu_delta_us, " us")}: ${met(targets.secure_cpu_delta_us.met, targets.secure_cpu_delta_us.inconclusive)}; one run: \`npx tsx bench/ab.ts gateway gateway_secure\` is steadier)`);
  const observedDelta = vsObserved.cpu_per_request_delta_us;
  console.log(`gateway_observed - gateway CPU per request: ${observedDelta === null ? "-" : `${observedDelta >= 0 ? "+" : ""}${observedDelta} us`}  ` +
    `(target ${bound(targets.observed_cpu_delta_us, " us")}: ${met(targets.observed_cpu_delta_us.met, targets.observed_cpu_delta_us.inconclusive)}; one run: \`npx tsx bench/ab.ts gateway gateway_observed\` is steadier)`);
  console.log(`passthrough / direct throughput:       ${ratio(passthrough.rps, direct.rps)}`);
  const limit = results.rate_limit;
  if (!limit) return console.log("global rate limit:                     not measured (BENCH_RATE_LIMIT=off)");
  const withinLimit = limit.allowed <= limit.limit && limit.allowed >= limit.limit * (1 - MAX_SHORTFALL);
  console.log(`global rate limit, allowed / limit:    ${limit.allowed} / ${limit.limit} = ${limit.accuracy.toFixed(4)}  ` +
    `(target within ${MAX_SHORTFALL * 100} %, never above: ${met(withinLimit)})`);
  console.log(`global rate limit, DO calls / 100 req: ${limit.do_calls_per_100.toFixed(3)}  ` +
    `(target <= ${MAX_DO_CALLS_PER_100}: ${met(limit.do_calls_per_100 <= MAX_DO_CALLS_PER_100)})`);
}

function printRateLimit(limit: RateLimitResult, throughputCalls: Record<string, number> | undefined): void {
  console.log(`\nglobal rate limit: ${limit.isolates} isolates x ${limit.connections_per_isolate} connections, ${limit.seconds} s, ` +
    `limit ${limit.limit} per ${limit.window_ms / 60_000} min: ${limit.requests} requests, ${limit.allowed} allowed ` +
    `(wrk saw ${limit.wrk_2xx} 2xx: ${limit.wrk_2xx_per_isolate.join(" + ")} by isolate), ${limit.denied} denied (429), ${limit.granted} tokens granted; ` +
    `${limit.do_calls} Durable Object calls = ${limit.do_calls_per_100} per 100 requests, ${limit.do_calls_per_100_allowed} per 100 allowed`);
  if (limit.allowed !== limit.wrk_2xx) {
    console.log(`  note: the upstream saw ${limit.allowed - limit.wrk_2xx} more requests than wrk got 2xx answers (answers lost or still in flight)`);
  }
  if (throughputCalls) {
    const figures = Object.entries(throughputCalls).map(([name, calls]) => `${name} ${calls}`).join(", ");
    console.log(`RateLimiter calls per 100 requests on the benchmarked route (limit never reached): ${figures}`);
  }
}
