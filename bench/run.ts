/**
 * `npm run bench`: the gateway, with its control plane on, against a bare pass-through Worker, the
 * Hono proxy Worker a user would write instead (the peer) and the upstream itself, side by side in one
 * run, on loopback; then the global rate limit's accuracy over several isolates. See bench/README.md for what is measured and how to read it.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatError } from "../policies/errors.ts";
import { parsePolicySet } from "../policies/policy-set.ts";
import { checkTarget, type Target, type TargetName } from "./check.ts";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars, globalRuleStats } from "./control-plane.ts";
import { machineBusy, runMeta, type Durations } from "./meta.ts";
import { checkObserved, observedBindings, startCollector } from "./observed.ts";
import { BENCH_HOST, BENCH_PATH, BENCH_ROUTE, BENCH_RULE, benchPolicies, type BenchOptions } from "./policies.ts";
import { checkPeerRoutes, PEER_WRANGLER_TOML, peerBindings } from "./peer.ts";
import { measureRateLimit } from "./rate-limit.ts";
import { printReport, writeResults, type Results, type Row } from "./report.ts";
import { secureSetup, securePolicies } from "./secure.ts";
import { workerdProblems } from "./stderr.ts";
import { compare } from "./targets.ts";
import { startUpstreams } from "./upstream.ts";
import { bundle, cpuMs, freePort, startWorkerd, type Binding, type Workerd } from "./workerd.ts";
import { assertClean, ensureWrk, runWrk } from "./wrk.ts";

const ROOT = join(import.meta.dirname, "..");
// Its own folder: emptied at the start of each run, leaving ab.ts's and instructions.ts's files alone.
const WORK = join(import.meta.dirname, ".work", "run");
const RESULTS = join(import.meta.dirname, "results.json");
const CONNECTIONS = 50;
/** Gateway isolates sharing the limited route's global limit. */
const LIMITED_ISOLATES = 3;
/** Requests per hour on the limited route, per second of measurement: exceeded several times over. */
const LIMIT_PER_SECOND_MEASURED = 1_000;

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of seconds >= 1`);
  return value;
}

async function main(): Promise<void> {
  cleanUpOnExit();
  const durations: Durations = { seconds: seconds("BENCH_SECONDS", 10), warmup: seconds("BENCH_WARMUP_SECONDS", 3) };
  const limit = LIMIT_PER_SECOND_MEASURED * durations.seconds;
  ensureWrk();
  // Two cores: anything else running (a test suite, a build) shows up in every number below.
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 0.1) console.warn(`bench: warning: the CPUs are ${Math.round(busyBefore * 100)}% busy before starting; the numbers will be noisy`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  console.log("bench: bundling the pass-through Worker, the peer and the gateway (wrangler deploy --dry-run)");
  const [passthrough, peer, gateway] = await Promise.all([
    bundle(join(ROOT, "workers/passthrough/wrangler.toml"), join(WORK, "passthrough")),
    bundle(PEER_WRANGLER_TOML, join(WORK, "peer")),
    bundle(join(ROOT, "wrangler.toml"), join(WORK, "gateway")),
  ]);

  const upstreams = await startUpstreams(3);
  // The peer's decoy origin: answers only the route checks, so they can see where each request went.
  const decoy = await startUpstreams(1);
  const policies = (file: string, options: BenchOptions, secure = false) => {
    writeFileSync(join(WORK, file), JSON.stringify(checkedPolicies(upstreams.ports, options, secure)));
    return join(WORK, file);
  };
  const [full, plain, secure] = [policies("policies.json", { limit }), policies("policies-plain.json", { controlPlane: false }), policies("policies-secure.json", { limit }, true)];
  const identity = await secureSetup();
  // gateway_observed's traces go to this loopback OTLP collector, which counts them.
  const collector = await startCollector();
  const ports = {
    passthrough: await freePort(), peer_hono: await freePort(), gateway: await freePort(), gateway_nolog: await freePort(), gateway_plain: await freePort(),
    gateway_secure: await freePort(), gateway_observed: await freePort(),
  };
  const limitedPorts: number[] = [];
  for (let i = 0; i < LIMITED_ISOLATES; i++) limitedPorts.push(await freePort());
  // Every gateway Worker (a separate isolate) binds the same Durable Object namespaces, hosted apart.
  // The Issuer signs with a pinned key; only gateway_secure binds it (the others run without identity).
  const cp = controlPlane("control-plane", gateway, join(WORK, "do-disk"), deployedVars(join(ROOT, "wrangler.toml")), { issuerKey: identity.issuerKey });
  // Only gateway_observed binds METRICS and exports traces; the others record no metrics and export nothing.
  const gatewayWorker = (name: string, port: number, policiesFile: string, accessLog: string, { identity: withIdentity = false, observability = false } = {}) => ({
    name, bundle: gateway, port,
    bindings: cp.gatewayBindings(
      [{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: accessLog }, ...(observability ? observedBindings(collector) : [])] satisfies Binding[],
      { identity: withIdentity, observability },
    ),
  });
  // PRODUCTPAGE and RATINGS (service bindings in wrangler.toml) are left out: the benchmarked routes
  // reach HTTP endpoints only.
  const workerd = await startWorkerd(join(WORK, "config.capnp"), [
    { name: "passthrough", bundle: passthrough, port: ports.passthrough, bindings: [{ name: "UPSTREAM", text: `http://127.0.0.1:${upstreams.ports[0]}` }] },
    { name: "peer_hono", bundle: peer, port: ports.peer_hono, bindings: peerBindings(upstreams.ports, `http://127.0.0.1:${decoy.ports[0]}`) },
    cp.host,
    gatewayWorker("gateway", ports.gateway, full, "on"),
    gatewayWorker("gateway_nolog", ports.gateway_nolog, full, "off"),
    gatewayWorker("gateway_plain", ports.gateway_plain, plain, "on"),
    gatewayWorker("gateway_secure", ports.gateway_secure, secure, "on", { identity: true }),
    gatewayWorker("gateway_observed", ports.gateway_observed, full, "on", { observability: true }),
    ...limitedPorts.map((p, i) => gatewayWorker(`limited-${i + 1}`, p, full, "off")),
  ], WORK);

  const gatewayTarget = (name: "gateway" | "gateway_nolog" | "gateway_plain" | "gateway_secure" | "gateway_observed", accessLog: boolean, controlPlaneOn: boolean): Target =>
    ({ name, url: `http://127.0.0.1:${ports[name]}${BENCH_PATH}`, host: BENCH_HOST, routed: true, gateway: { accessLog, controlPlane: controlPlaneOn } });
  const targets: Target[] = [
    { name: "direct", url: `http://127.0.0.1:${upstreams.ports[0]}${BENCH_PATH}` },
    { name: "passthrough", url: `http://127.0.0.1:${ports.passthrough}${BENCH_PATH}` },
    { name: "peer_hono", url: `http://127.0.0.1:${ports.peer_hono}${BENCH_PATH}`, host: BENCH_HOST, routed: true },
    gatewayTarget("gateway", true, true),
    gatewayTarget("gateway_nolog", false, true),
    gatewayTarget("gateway_plain", true, false),
    // Identity on: STRICT on orders, the client's workload token, the caller token toward the upstream.
    { ...gatewayTarget("gateway_secure", true, true), headers: identity.headers },
    // Observability on: metrics flushed to the MetricsAggregator, 10 % of traces exported to the collector.
    gatewayTarget("gateway_observed", true, true),
  ];
  try {
    for (const target of targets) await checkTarget(target, upstreams);
    await checkObserved("gateway_observed", `http://127.0.0.1:${ports.gateway_observed}${BENCH_PATH}`, BENCH_HOST, BENCH_ROUTE, collector);
    await checkPeerRoutes(ports.peer_hono, upstreams.ports, decoy.ports[0]!);
    const rows: Partial<Record<TargetName, Row>> = {};
    const hits: Record<string, number[]> = {};
    const cpu: Record<string, number> = {};
    const doCalls: Record<string, number> = {};
    const spans: Record<string, { spans: number; exports: number; per_request: number }> = {};
    for (const target of targets) {
      const before = [...upstreams.hits];
      const received = { ...collector.received };
      const callsBefore = target.gateway?.controlPlane ? (await globalRuleStats(ports.gateway, BENCH_RULE)).calls : undefined;
      const { row, cpuUsPerRequest } = await measure(target, workerd, durations);
      rows[target.name] = row;
      if (cpuUsPerRequest !== undefined) cpu[target.name] = cpuUsPerRequest;
      hits[target.name] = upstreams.hits.map((count, i) => count - before[i]!);
      const served = hits[target.name]!.reduce((a, b) => a + b, 0);
      if (collector.received.spans > received.spans) {
        const got = collector.received.spans - received.spans;
        spans[target.name] = { spans: got, exports: collector.received.exports - received.exports, per_request: Math.round((got / served) * 1000) / 1000 };
      }
      if (callsBefore !== undefined) {
        // Lease calls per 100 requests on the never-denying route: the steady-state cost of a global limit.
        const calls = (await globalRuleStats(ports.gateway, BENCH_RULE)).calls - callsBefore;
        doCalls[target.name] = Math.round((calls / hits[target.name]!.reduce((a, b) => a + b, 0)) * 100 * 1000) / 1000;
      }
    }
    // Only gateway_observed exports traces (the collector would otherwise count another entry's too).
    if (!spans.gateway_observed) throw new Error("gateway_observed: the OTLP collector received no spans during its measurement");
    const leaked = Object.keys(spans).filter((name) => name !== "gateway_observed");
    if (leaked.length) throw new Error(`the OTLP collector received spans while measuring ${leaked.join(", ")}: only gateway_observed exports traces`);
    // BENCH_RATE_LIMIT=off: short runs that check the plumbing, or a machine too busy to exceed the limit.
    const rateLimit = process.env.BENCH_RATE_LIMIT === "off" ? null : await measureRateLimit(limitedPorts, limit, durations.seconds, upstreams);
    const results: Results = {
      ...(rows as Record<TargetName, Row>),
      // The gateway against the peer and the pass-through, with the targets met or not.
      comparison: compare(rows as Record<TargetName, Row>, cpu),
      rate_limit: rateLimit,
      meta: {
        ...runMeta(durations, CONNECTIONS, busyBefore),
        // workerd's CPU time per request at 50 connections: less moved by other load than req/s.
        workerd_cpu_us_per_request: cpu,
        // RateLimiter lease calls per 100 requests through the benchmarked route (limit never reached).
        rate_limit_do_calls_per_100: doCalls,
        // Spans the loopback OTLP collector received during each entry's measurement (gateway_observed only):
        // at 10 % sampling, about 0.2 per request (a server and a client span per sampled request).
        otlp_spans: spans,
        // Requests each upstream endpoint served per target: the gateway spreads over all three.
        upstream_hits: hits,
        // Warnings and errors workerd and the gateway wrote to stderr (Durable Object failures would show here).
        workerd_stderr: workerdProblems(workerd.stderrFile),
      },
    };
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
    await decoy.close();
    await collector.close();
  }
}

/** The policy set, checked here with the gateway's own parser: the gateway would log a rejection and serve other policies. */
function checkedPolicies(ports: readonly number[], options: BenchOptions, secure: boolean): unknown[] {
  const documents = secure ? securePolicies(ports, options) : benchPolicies(ports, options);
  const result = parsePolicySet(documents.map((value, index) => ({ source: "bench/policies.ts", index, value })));
  if (!result.ok) throw new Error(`the benchmark's policies are invalid:\n${result.errors.map(formatError).join("\n")}`);
  return documents;
}

async function measure(target: Target, workerd: Workerd, { seconds, warmup }: Durations): Promise<{ row: Row; cpuUsPerRequest: number | undefined }> {
  const run = async (connections: number, duration: number, what: string) => {
    const result = await runWrk({ url: target.url, host: target.host, headers: target.headers, connections, seconds: duration });
    assertClean(result, `${target.name} ${what}`);
    return result;
  };
  console.log(`bench: ${target.name}: warm-up ${warmup} s, then ${seconds} s at ${CONNECTIONS} connections, ${seconds} s at 1`);
  await run(CONNECTIONS, warmup, "warm-up");
  const logBefore = statSync(workerd.stdoutFile).size;
  const cpuBefore = target.name === "direct" ? undefined : cpuMs(workerd.process.pid!);
  const loaded = await run(CONNECTIONS, seconds, `-c${CONNECTIONS}`);
  const cpuAfter = cpuBefore === undefined ? undefined : cpuMs(workerd.process.pid!);
  // Only one Worker is under load at a time, so workerd's CPU time is that Worker's (and its Durable Objects').
  const cpuUsPerRequest = cpuAfter === undefined ? undefined : Math.round(((cpuAfter - cpuBefore!) * 1000) / loaded.requests);
  if (target.gateway) {
    // The gateway entries differ by the access log; make sure it is really on or off.
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

main().catch((error: unknown) => {
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
  // Exit now: the upstream servers would keep Node alive (the exit handler kills the children).
  process.exit(1);
});
