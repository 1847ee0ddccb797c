/**
 * `npm run bench:scale`: what routing and balancing cost as the mesh grows, measured in workerd.
 * Routes: 50, 1 000 and 10 000 on one host and each on its own host; match cost (last route in
 * precedence and a typical one, against the old linear scan), compile cost (a cold isolate's first
 * compile, and a new version in a warm isolate), validation and JSON costs. Endpoints: 10, 100 and
 * 1 000 for each balancer; pick cost (against the old scans) and per-list build cost.
 *
 * Inside workerd the clocks stand still during synchronous code, so every figure is the workerd
 * process's CPU time (all its threads', from /proc) across one request that runs k iterations
 * (bench/scale-worker.ts), minus an empty request's, divided by k; k is grown until a request costs
 * SCALE_TARGET_MS of CPU, and the least of SCALE_RUNS runs is kept (other load only adds). A cold
 * compile is one request in each of SCALE_COLD_ISOLATES fresh isolates.
 * Writes bench/scale.json. See bench/README.md.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { normalizedValues } from "../policies/normalized.ts";
import { parsePolicySet } from "../policies/policy-set.ts";
import { cleanUpOnExit } from "./children.ts";
import { machineBusy } from "./meta.ts";
import { scalePolicies } from "./scale-policies.ts";
import { workerdProblems } from "./stderr.ts";
import { bundle, freePort, startWorkerd, threadCpuMs as cpuOfProcess, workerdBinary, type Bundle, type WorkerSpec } from "./workerd.ts";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(import.meta.dirname, ".work", "scale");
const RESULTS = join(import.meta.dirname, "scale.json");
const TARGET_MS = Number(process.env.SCALE_TARGET_MS ?? 200);
const RUNS = Number(process.env.SCALE_RUNS ?? 5);
/** Fresh isolates per cold-compile figure (the median is kept). */
const COLD_ISOLATES = Number(process.env.SCALE_COLD_ISOLATES ?? 9);
const counts = (name: string, fallback: number[]) => (process.env[name] ? process.env[name].split(",").map(Number) : fallback);
/** SCALE_ROUTES, SCALE_ENDPOINTS and SCALE_HOSTS ("one,own") measure fewer cases, for a quick look. */
const ROUTE_COUNTS = counts("SCALE_ROUTES", [50, 1_000, 10_000]);
const ENDPOINT_COUNTS = counts("SCALE_ENDPOINTS", [10, 100, 1_000]);

interface Running {
  pid: number;
  port: number;
  /** CPU ms of one empty request. */
  baseline: number;
}

/** freePort, never the same port twice in one run (the kernel may offer a closed one again). */
const taken = new Set<number>();
async function uniquePort(): Promise<number> {
  let port = await freePort();
  while (taken.has(port)) port = await freePort();
  taken.add(port);
  return port;
}

async function get(port: number, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${text}`);
  return text;
}

async function cpuOf(target: Running, path: string): Promise<number> {
  const before = cpuOfProcess(target.pid);
  await get(target.port, path);
  return cpuOfProcess(target.pid) - before;
}

async function baselineOf(pid: number, port: number): Promise<Running> {
  const requests = 300;
  const before = cpuOfProcess(pid);
  for (let i = 0; i < requests; i++) await get(port, "/empty");
  return { pid, port, baseline: (cpuOfProcess(pid) - before) / requests };
}

/** CPU ms per iteration of `path` (which takes &k=). */
async function perIteration(target: Running, path: string): Promise<number> {
  const join = path.includes("?") ? "&" : "?";
  let k = 1;
  let ms = (await cpuOf(target, `${path}${join}k=${k}`)) - target.baseline;
  while (ms < TARGET_MS / 5) {
    k = Math.ceil(k * Math.min(100, Math.max(2, TARGET_MS / Math.max(ms, 1))));
    ms = (await cpuOf(target, `${path}${join}k=${k}`)) - target.baseline;
  }
  k = Math.max(1, Math.round((k * TARGET_MS) / ms));
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) best = Math.min(best, ((await cpuOf(target, `${path}${join}k=${k}`)) - target.baseline) / k);
  return best;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

async function measureRoutes(script: Bundle, routes: number, hosts: "one" | "own") {
  const documents = scalePolicies(routes, hosts).map((value, index) => ({ source: "bench", index, value }));
  const checked = parsePolicySet(documents);
  if (!checked.ok) throw new Error(`the scale policies are invalid: ${JSON.stringify(checked.errors.slice(0, 3))}`);
  const text = JSON.stringify(normalizedValues(checked.set, documents));
  const docsFile = join(WORK, `docs-${routes}-${hosts}.json`);
  writeFileSync(docsFile, text);
  const bindings = [{ name: "DOCS", file: docsFile }, { name: "ROUTES", text: String(routes) }, { name: "HOSTS", text: hosts }];
  const worker = async (name: string): Promise<WorkerSpec> => ({ name, bundle: script, port: await uniquePort(), bindings });
  const warm = await worker("warm");
  const cold: WorkerSpec[] = [];
  for (let i = 0; i < COLD_ISOLATES; i++) cold.push(await worker(`cold-${i}`));
  console.log(`bench:scale: ${routes} routes on ${hosts === "one" ? "one host" : "their own hosts"} (${(text.length / 1e6).toFixed(1)} MB normalized)`);
  const workerd = await startWorkerd(join(WORK, "routes.capnp"), [warm, ...cold], WORK);
  try {
    const pid = workerd.process.pid!;
    // Cold isolates first, before anything else warms the process: each parses the documents in one
    // request, then compiles them and serves the first request in the next, which is measured.
    const compileCosts: number[] = [];
    for (const w of cold) {
      await get(w.port!, "/cold/parse");
      const before = cpuOfProcess(pid);
      await get(w.port!, "/cold/compile");
      compileCosts.push(cpuOfProcess(pid) - before);
    }
    const target = await baselineOf(pid, warm.port!);
    await get(warm.port!, "/setup");
    const us = async (path: string) => round((await perIteration(target, path)) * 1000, 3);
    const ms = async (path: string) => round(await perIteration(target, path), 2);
    return {
      routes,
      hosts: hosts === "one" ? 1 : routes,
      match_us: await us("/routes/match?which=last"),
      match_typical_us: await us("/routes/match?which=typical"),
      linear_match_us: await us("/routes/linear?which=last"),
      compile_ms: round(median(compileCosts) - target.baseline, 1),
      compile_warm_ms: await ms("/routes/compile"),
      validate_ms: await ms("/routes/validate"),
      json_parse_ms: await ms("/routes/json"),
      normalized_bytes: text.length,
      stderr: workerdProblems(workerd.stderrFile),
    };
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworkerd's stderr:\n${workerd.stderrTail()}`);
  } finally {
    await workerd.stop();
  }
}

async function measureBalancers(script: Bundle) {
  const spec: WorkerSpec = { name: "balancers", bundle: script, port: await uniquePort(), bindings: [] };
  const workerd = await startWorkerd(join(WORK, "balancers.capnp"), [spec], WORK);
  const rows = [];
  try {
    const target = await baselineOf(workerd.process.pid!, spec.port!);
    const kinds = [
      { balancer: "RoundRobin", weights: "equal" },
      { balancer: "RoundRobin", weights: "unequal" },
      { balancer: "Random", weights: "equal" },
      { balancer: "Random", weights: "unequal" },
      { balancer: "LeastRequest", weights: "unequal" },
      { balancer: "ConsistentHash", weights: "equal" },
    ];
    for (const { balancer, weights } of kinds) {
      for (const endpoints of ENDPOINT_COUNTS) {
        console.log(`bench:scale: ${balancer} over ${endpoints} endpoints, ${weights} weights`);
        const query = `balancer=${balancer}&endpoints=${endpoints}&weights=${weights}`;
        const hasBuild = balancer !== "LeastRequest" && !(weights === "equal" && balancer !== "ConsistentHash");
        const hasBefore = balancer === "RoundRobin" || balancer === "Random";
        rows.push({
          endpoints,
          balancer,
          weights,
          pick_us: round((await perIteration(target, `/lb/pick?${query}`)) * 1000, 3),
          build_ms: hasBuild ? round(await perIteration(target, `/lb/build?${query}`), 4) : 0,
          ...(hasBefore && { before_pick_us: round((await perIteration(target, `/lb/before?${query}`)) * 1000, 3) }),
        });
      }
    }
    return { rows, stderr: workerdProblems(workerd.stderrFile) };
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworkerd's stderr:\n${workerd.stderrTail()}`);
  } finally {
    await workerd.stop();
  }
}

async function main(): Promise<void> {
  cleanUpOnExit();
  const busyBefore = await machineBusy(1000);
  if (busyBefore > 0.1) console.warn(`bench:scale: warning: the CPUs are ${Math.round(busyBefore * 100)}% busy before starting; figures are CPU time, but still move`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  console.log("bench:scale: bundling bench/scale-worker.ts (wrangler deploy --dry-run)");
  const script = await bundle(join(import.meta.dirname, "scale-worker.toml"), join(WORK, "bundle"));
  const routes = [];
  const hostModes = (process.env.SCALE_HOSTS ?? "one,own").split(",") as ("one" | "own")[];
  for (const hosts of hostModes) for (const count of ROUTE_COUNTS) routes.push(await measureRoutes(script, count, hosts));
  const balancers = await measureBalancers(script);
  const firstLine = (command: string, args: string[]) => spawnSync(command, args, { encoding: "utf8" }).stdout.split("\n")[0]!.trim();
  const results = {
    routes: routes.map(({ stderr: _, ...row }) => row),
    endpoints: balancers.rows,
    meta: {
      date: new Date().toISOString(),
      commit: firstLine("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
      // The bundle comes from the working tree: say whether it differed from the commit there.
      uncommitted_changes: firstLine("git", ["-C", ROOT, "status", "--porcelain", "--", "workers", "policies", "bench/scale-worker.ts", "bench/scale-before.ts", "bench/scale-policies.ts"]) !== "",
      workerd: firstLine(workerdBinary(), ["--version"]),
      node: process.version,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
      cpus_busy_before: round(busyBefore, 2),
      method: `workerd CPU time (every thread's /proc schedstat) per request minus an empty request's, over k iterations sized to ${TARGET_MS} ms of CPU, least of ${RUNS} runs; compile_ms: median over ${COLD_ISOLATES} fresh isolates of the request that compiles the documents (parsed by the isolate's one request before) and serves the first match, minus an empty request`,
      workerd_stderr: [...routes.map((row) => row.stderr), balancers.stderr].filter((summary) => summary.lines > 0),
    },
  };
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
  console.table(results.routes);
  console.table(results.endpoints);
  console.log(`bench:scale: wrote ${RESULTS}`);
}

main().catch((error: unknown) => {
  console.error(`\nbench:scale failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
