/**
 * `npm run bench`: the gateway against a bare pass-through Worker and the upstream itself, side by
 * side in one run, on loopback. See bench/README.md for what is measured and how to read it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { formatError } from "../policies/errors.ts";
import { parsePolicySet } from "../policies/policy-set.ts";
import { checkTarget, type Target, type TargetName } from "./check.ts";
import { cleanUpOnExit } from "./children.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { printReport, writeResults, type Results, type Row } from "./report.ts";
import { startUpstreams } from "./upstream.ts";
import { bundle, cpuMs, freePort, startWorkerd, workerdBinary, type Workerd } from "./workerd.ts";
import { assertClean, ensureWrk, runWrk } from "./wrk.ts";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(import.meta.dirname, ".work");
const RESULTS = join(import.meta.dirname, "results.json");
const CONNECTIONS = 50;

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of seconds >= 1`);
  return value;
}

interface Durations {
  seconds: number;
  warmup: number;
}

async function main(): Promise<void> {
  cleanUpOnExit();
  const durations: Durations = { seconds: seconds("BENCH_SECONDS", 10), warmup: seconds("BENCH_WARMUP_SECONDS", 3) };
  ensureWrk();
  // Two cores: anything else running (a test suite, a build) shows up in every number below.
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 0.1) console.warn(`bench: warning: the CPUs are ${Math.round(busyBefore * 100)}% busy before starting; the numbers will be noisy`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  console.log("bench: bundling the pass-through Worker and the gateway (wrangler deploy --dry-run)");
  const [passthrough, gateway] = await Promise.all([
    bundle(join(ROOT, "workers/passthrough/wrangler.toml"), join(WORK, "passthrough")),
    bundle(join(ROOT, "wrangler.toml"), join(WORK, "gateway")),
  ]);

  const upstreams = await startUpstreams(3);
  const policiesFile = join(WORK, "policies.json");
  writeFileSync(policiesFile, JSON.stringify(checkedPolicies(upstreams.ports)));
  const [passthroughPort, gatewayPort, nologPort] = [await freePort(), await freePort(), await freePort()];
  const policyBindings = (accessLog: string) => [{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: accessLog }];
  // PRODUCTPAGE and RATINGS (service bindings in wrangler.toml) are left out: the benchmarked route
  // reaches HTTP endpoints only.
  const workerd = await startWorkerd(join(WORK, "config.capnp"), [
    { name: "passthrough", bundle: passthrough, port: passthroughPort!, bindings: [{ name: "UPSTREAM", text: `http://127.0.0.1:${upstreams.ports[0]}` }] },
    { name: "gateway", bundle: gateway, port: gatewayPort!, bindings: policyBindings("on") },
    { name: "gateway_nolog", bundle: gateway, port: nologPort!, bindings: policyBindings("off") },
  ], WORK);

  const targets: Target[] = [
    { name: "direct", url: `http://127.0.0.1:${upstreams.ports[0]}${BENCH_PATH}` },
    { name: "passthrough", url: `http://127.0.0.1:${passthroughPort}${BENCH_PATH}` },
    { name: "gateway", url: `http://127.0.0.1:${gatewayPort}${BENCH_PATH}`, host: BENCH_HOST, gateway: { accessLog: true } },
    { name: "gateway_nolog", url: `http://127.0.0.1:${nologPort}${BENCH_PATH}`, host: BENCH_HOST, gateway: { accessLog: false } },
  ];
  try {
    for (const target of targets) await checkTarget(target, upstreams);
    const rows: Partial<Record<TargetName, Row>> = {};
    const hits: Record<string, number[]> = {};
    const cpu: Record<string, number> = {};
    for (const target of targets) {
      const before = [...upstreams.hits];
      const { row, cpuUsPerRequest } = await measure(target, workerd, durations);
      rows[target.name] = row;
      if (cpuUsPerRequest !== undefined) cpu[target.name] = cpuUsPerRequest;
      hits[target.name] = upstreams.hits.map((count, i) => count - before[i]!);
    }
    const results = { ...(rows as Record<TargetName, Row>), meta: meta(durations, hits, cpu, busyBefore) } satisfies Results;
    writeResults(RESULTS, results);
    printReport(results);
    console.log(`\nbench: wrote ${RESULTS}`);
  } catch (error) {
    const { exitCode, signalCode } = workerd.process;
    const died = exitCode !== null || signalCode !== null ? `workerd died (${signalCode ?? exitCode}). ` : "";
    throw new Error(`${(error as Error).message}\n\n${died}workerd's stderr (last lines):\n${workerd.stderrTail()}`);
  } finally {
    await workerd.stop();
    await upstreams.close();
  }
}

/** Fraction of all CPUs' time spent busy over the next `ms` (the load average lags by minutes). */
async function machineBusy(ms: number): Promise<number> {
  const sample = () => {
    let idle = 0;
    let total = 0;
    for (const { times } of cpus()) {
      idle += times.idle;
      total += times.user + times.nice + times.sys + times.irq + times.idle;
    }
    return { idle, total };
  };
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  return 1 - (after.idle - before.idle) / Math.max(1, after.total - before.total);
}

/** The policy set, checked here with the gateway's own parser: the gateway would log a rejection and serve other policies. */
function checkedPolicies(ports: readonly number[]): unknown[] {
  const documents = benchPolicies(ports);
  const result = parsePolicySet(documents.map((value, index) => ({ source: "bench/policies.ts", index, value })));
  if (!result.ok) throw new Error(`the benchmark's policies are invalid:\n${result.errors.map(formatError).join("\n")}`);
  return documents;
}

async function measure(target: Target, workerd: Workerd, { seconds, warmup }: Durations): Promise<{ row: Row; cpuUsPerRequest: number | undefined }> {
  const run = async (connections: number, duration: number, what: string) => {
    const result = await runWrk({ url: target.url, host: target.host, connections, seconds: duration });
    assertClean(result, `${target.name} ${what}`);
    return result;
  };
  console.log(`bench: ${target.name}: warm-up ${warmup} s, then ${seconds} s at ${CONNECTIONS} connections, ${seconds} s at 1`);
  await run(CONNECTIONS, warmup, "warm-up");
  const logBefore = statSync(workerd.stdoutFile).size;
  const cpuBefore = target.name === "direct" ? undefined : cpuMs(workerd.process.pid!);
  const loaded = await run(CONNECTIONS, seconds, `-c${CONNECTIONS}`);
  const cpuAfter = cpuBefore === undefined ? undefined : cpuMs(workerd.process.pid!);
  // Only one Worker is under load at a time, so workerd's CPU time is that Worker's.
  const cpuUsPerRequest = cpuAfter === undefined ? undefined : Math.round(((cpuAfter - cpuBefore!) * 1000) / loaded.requests);
  if (target.gateway) {
    // The two gateway entries differ only by the access log; make sure that is really so.
    const logged = statSync(workerd.stdoutFile).size > logBefore;
    if (logged !== target.gateway.accessLog) {
      throw new Error(`${target.name}: the access log is ${logged ? "on" : "off"}, expected ${target.gateway.accessLog ? "on" : "off"}`);
    }
  }
  const single = await run(1, seconds, "-c1");
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    row: { rps: Math.round(loaded.rps), p50_ms: round(loaded.p50_ms), p99_ms: round(loaded.p99_ms), p50_c1_ms: round(single.p50_ms) },
    cpuUsPerRequest,
  };
}

function meta(durations: Durations, hits: Record<string, number[]>, cpu: Record<string, number>, busyBefore: number): Record<string, unknown> {
  const firstLine = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { encoding: "utf8" });
    return `${result.stdout ?? ""}${result.stderr ?? ""}`.split("\n")[0]!.trim();
  };
  return {
    date: new Date().toISOString(),
    commit: firstLine("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    // The bundles come from the working tree: say whether it differed from the commit there.
    uncommitted_changes: firstLine("git", ["-C", ROOT, "status", "--porcelain", "--", "workers", "policies", "wrangler.toml"]) !== "",
    seconds_per_measurement: durations.seconds,
    warmup_seconds: durations.warmup,
    connections: CONNECTIONS,
    wrk_threads: 1,
    node: process.version,
    workerd: firstLine(workerdBinary(), ["--version"]),
    wrk: firstLine("wrk", ["--version"]),
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
    // Busy share of all CPUs in the second before the run: other work there moves every number.
    cpus_busy_before: Math.round(busyBefore * 100) / 100,
    // workerd's CPU time per request at 50 connections: less moved by other load than req/s.
    workerd_cpu_us_per_request: cpu,
    // Requests each upstream endpoint served per target: the gateway spreads over all three.
    upstream_hits: hits,
  };
}

main().catch((error: unknown) => {
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
  // Exit now: the upstream servers would keep the process alive (the exit handler kills the children).
  process.exit(1);
});
