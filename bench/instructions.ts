/**
 * `npx tsx bench/instructions.ts <variant> [<variant> …]`: machine instructions per request, counted
 * by valgrind's callgrind (Debian's `valgrind`), for changes too small for CPU time on a shared VM to
 * show (its rounds move by ±10 %, a 10 µs change is 3 %). Each variant runs alone in a workerd under
 * callgrind with instrumentation off; after WARMUP requests (the JIT settles, caches fill) counting is
 * switched on for REQUESTS more, at CONCURRENCY connections, and the instructions of every workerd
 * thread are divided by the requests. The count is what the code executes, whatever else the machine
 * runs; V8's background compiles in the window are reported apart (compileInstructions), and the
 * rest of the spread between runs is mostly whether a major GC fell in the window: count more
 * requests (INSTRUCTIONS_REQUESTS) to average it. Instructions are not time (a cache miss costs more than
 * an add), so `bench/ab.ts` stays the figure for CPU time; this says which change removed work.
 * A variant is one of bench/variants.ts's gateway variants (gateway, gateway_issuer, gateway_secure[:<bundle.js>], gateway_bytes, <bundle.js>).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { bytesPolicies, secureSetup, securePolicies } from "./secure.ts";
import { startUpstreams } from "./upstream.ts";
import { parseVariant } from "./variants.ts";
import { bundle, freePort, startWorkerd, type Bundle } from "./workerd.ts";

const ROOT = join(import.meta.dirname, "..");
// Per process: two runs side by side do not disturb each other's counts.
const WORK = join(import.meta.dirname, ".work", `instructions-${process.pid}`);
const WARMUP = Number(process.env.INSTRUCTIONS_WARMUP ?? 3000);
const REQUESTS = Number(process.env.INSTRUCTIONS_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.INSTRUCTIONS_CONCURRENCY ?? 4);

const args = process.argv.slice(2);
if (!args.length) throw new Error("usage: tsx bench/instructions.ts <variant> […] (bench/variants.ts: gateway, gateway_issuer, gateway_secure[:<bundle.js>], gateway_bytes, <bundle.js>)");
if (spawnSync("valgrind", ["--version"], { stdio: "ignore" }).error) throw new Error("valgrind is not installed (Debian: apt-get install -y valgrind)");

cleanUpOnExit();
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
const upstreams = await startUpstreams(3);
const identity = await secureSetup();
/**
 * Under callgrind a request takes 30-50 times as long, so work done per interval of time (the
 * isolates' KV polls and health reports) would weigh 30-50 times more per request than it does at
 * full speed, and more in a slower run: the intervals are stretched to a minute so that the count is
 * the requests' own work.
 */
const STRETCHED: Record<string, string> = { CONFIG_POLL_INTERVAL_MS: "60000", HEALTH_REPORT_INTERVAL_MS: "60000" };
const vars = deployedVars(join(ROOT, "wrangler.toml")).map((binding) => (binding.name in STRETCHED ? { name: binding.name, text: STRETCHED[binding.name]! } : binding));
/**
 * The bench's policies with every timeout at 60 s: under callgrind a request runs 20 to 50 times
 * slower, and a timeout that fires would change what is counted (a timer is armed either way).
 */
const slow = (documents: unknown[]) => JSON.stringify(documents, (key, value) => (key === "timeouts" ? Object.fromEntries(Object.keys(value).map((name) => [name, "60s"])) : value));
const policiesFile = join(WORK, "policies.json");
writeFileSync(policiesFile, slow(benchPolicies(upstreams.ports)));
const securePoliciesFile = join(WORK, "policies-secure.json");
writeFileSync(securePoliciesFile, slow(securePolicies(upstreams.ports)));
const bytesPoliciesFile = join(WORK, "policies-bytes.json");
writeFileSync(bytesPoliciesFile, slow(bytesPolicies(upstreams.ports, Object.values(identity.headers)[0]!.length)));
let tree: Bundle | undefined;
const builds = {
  gateway: async () => (tree ??= await bundle(join(ROOT, "wrangler.toml"), join(WORK, "gateway"))),
  peer: () => Promise.reject(new Error("instructions.ts counts gateway variants only")),
};

/** `count` GETs of the benchmarked route, `CONCURRENCY` at a time over kept-alive connections; every answer must be 2xx. */
async function load(port: number, headers: Record<string, string>, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const one = () =>
    new Promise<void>((done, fail) => {
      const call = request({ host: "127.0.0.1", port, path: BENCH_PATH, agent, headers: { host: BENCH_HOST, ...headers } }, (response) => {
        response.resume();
        response.once("end", () => (response.statusCode! < 300 ? done() : fail(new Error(`status ${response.statusCode}`))));
      });
      call.setTimeout(60_000, () => call.destroy(new Error("no answer within 60 s")));
      call.once("error", fail);
      call.end();
    });
  const worker = async () => {
    while (next++ < count) await one();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
}

async function measure(arg: string, index: number): Promise<{ total: number; compiling: number }> {
  const v = await parseVariant(arg, builds);
  if (v.kind !== "gateway" || v.observed) throw new Error(`${arg}: instructions.ts counts gateway, gateway_issuer, gateway_secure and gateway_bytes variants`);
  const name = `v${index}`;
  const dir = join(WORK, name);
  mkdirSync(join(dir, "do"), { recursive: true });
  const cp = controlPlane(`${name}-control-plane`, v.bundle, join(dir, "do"), vars, { issuerKey: identity.issuerKey });
  const bindings = cp.gatewayBindings([{ name: "MESH_POLICIES", file: v.secure ? securePoliciesFile : v.bytes ? bytesPoliciesFile : policiesFile }, { name: "ACCESS_LOG", text: process.env.INSTRUCTIONS_ACCESS_LOG ?? "on" }], { identity: v.issuer === true });
  const port = await freePort();
  const out = join(dir, "callgrind.out");
  const workerd = await startWorkerd(join(dir, "config.capnp"), [cp.host, { name, bundle: v.bundle, port, bindings }], dir, [], {
    launcher: ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--smc-check=all-non-file", `--callgrind-out-file=${out}`],
    startTimeoutMs: 300_000,
  });
  const pid = String(workerd.process.pid);
  try {
    const headers = v.secure || v.bytes ? identity.headers : {};
    await load(port, headers, WARMUP);
    spawnSync("callgrind_control", ["-i", "on", pid], { stdio: "ignore" });
    await load(port, headers, REQUESTS);
    spawnSync("callgrind_control", ["-d", pid], { stdio: "ignore" });
  } finally {
    await workerd.stop();
  }
  // The dump asked for is callgrind.out.1 (every thread's counts); callgrind.out, written at exit, holds the shutdown.
  let instructions = 0;
  let compiling = 0;
  for (const file of readdirSync(dir).filter((f) => /^callgrind\.out\.\d/.test(f))) {
    const path = join(dir, file);
    const summary = /^summary: (\d+)/m.exec(readFileSync(path, "utf8"));
    instructions += Number(summary?.[1] ?? 0);
    compiling += compileInstructions(path);
  }
  return { total: instructions / REQUESTS, compiling: compiling / REQUESTS };
}

/**
 * What V8's background compilers (TurboFan, Maglev) executed in the window, inclusive. The JIT keeps
 * tiering functions up long after the warm-up (a few compiles per 2 000 requests even after 12 000,
 * `--trace-opt`), each tens of millions of instructions: one-time work, not a request's cost, and
 * the count's largest source of run-to-run spread (±10 000 per request), so it is reported apart.
 */
function compileInstructions(file: string): number {
  const annotated = spawnSync("callgrind_annotate", ["--inclusive=yes", "--threshold=100", file], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  let sum = 0;
  for (const line of annotated.stdout.split("\n")) {
    if (!COMPILE_JOBS.some((job) => line.includes(job))) continue;
    sum += Number(/^\s*([\d,]+)/.exec(line)?.[1]?.replaceAll(",", "") ?? 0);
  }
  return sum;
}
const COMPILE_JOBS = ["OptimizingCompileTaskExecutor::CompileTask::Run(", "MaglevConcurrentDispatcher::JobTask::Run("];

try {
  const results: { total: number; compiling: number }[] = [];
  const count = (n: number) => Math.round(n).toLocaleString("en");
  const versus = (value: number, base: number) => ` (${value >= base ? "+" : ""}${count(value - base)} vs A, ratio ${(value / base).toFixed(3)})`;
  for (const [index, arg] of args.entries()) {
    const measured = await measure(arg, index);
    results.push(measured);
    const steady = measured.total - measured.compiling;
    const first = results[0]!;
    console.log(
      `${String.fromCharCode(65 + index)} ${arg}: ${count(steady)} instructions per request without JIT compilation${index ? versus(steady, first.total - first.compiling) : ""}; ` +
        `${count(measured.total)} with it${index ? versus(measured.total, first.total) : ""}`,
    );
  }
  console.log(`${WARMUP} requests to warm up, then ${REQUESTS} counted at ${CONCURRENCY} connections; every workerd thread's instructions (callgrind; its files in ${WORK})`);
} finally {
  await upstreams.close();
}
