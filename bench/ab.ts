/**
 * `npx tsx bench/ab.ts <a> <b> [<c> …]`: which of two (or more) Workers costs less CPU per request. All
 * run in one workerd, measured in turns (A, B, A, B, …) under the same wrk load, so that the machine's
 * drift (a shared VM moves single runs by ±30 %) hits them alike; and since one isolate of a Worker
 * can cost 10 % more or less than another of the same code for as long as it lives, each variant runs
 * in AB_COPIES (2) isolates, in AB_SESSIONS (2) fresh workerd processes, AB_ROUNDS (6) rounds of
 * AB_SECONDS (2) s each; other load only adds, so each isolate's figure is its least round. Prints each
 * round, then each variant's ratio to A (the mean of the sessions' ratios, each session's given).
 * Each argument is a variant (bench/variants.ts: gateway, gateway_issuer, gateway_secure[:<bundle.js>], gateway_bytes,
 * gateway_observed[:<ratio>], peer[:<bundle.js>], <bundle.js>).
 * A gateway argument may end in "+log": the access log is on for it (AB_ACCESS_LOG, off by default,
 * sets it for the others). As in `npm run bench`, a gateway's control plane is on (each gateway hosts its own Durable
 * Objects); AB_CONTROL_PLANE=off measures the policies without health checking and global rate limits.
 * `npx tsx bench/ab.ts peer gateway` is the steadiest figure for the gateway against the peer. CPU time is
 * every workerd thread's, from /proc schedstat (nanoseconds).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { PEER_WRANGLER_TOML, peerBindings } from "./peer.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { observedBindings, startCollector, TRACE_SAMPLE_RATIO } from "./observed.ts";
import { bytesPolicies, secureSetup, securePolicies } from "./secure.ts";
import { startUpstreams } from "./upstream.ts";
import { parseVariant, type Variant } from "./variants.ts";
import { bundle, freePort, startWorkerd, systemMs, threadCpuMs, type WorkerSpec } from "./workerd.ts";
import { runWrk } from "./wrk.ts";

const WORK = join(import.meta.dirname, ".work");
const ROOT = join(import.meta.dirname, "..");
const SESSIONS = Number(process.env.AB_SESSIONS ?? 2);
const COPIES = Number(process.env.AB_COPIES ?? 2);
const ROUNDS = Number(process.env.AB_ROUNDS ?? 6);
const SECONDS = Number(process.env.AB_SECONDS ?? 2);

const args = process.argv.slice(2);
if (args.length < 2) throw new Error("usage: tsx bench/ab.ts <variant> <variant> [<variant> …] (bench/variants.ts)");

cleanUpOnExit();
mkdirSync(WORK, { recursive: true });
const upstreams = await startUpstreams(3);
const policiesFile = join(WORK, "ab-policies.json");
const benchOptions = { controlPlane: process.env.AB_CONTROL_PLANE !== "off" };
writeFileSync(policiesFile, JSON.stringify(benchPolicies(upstreams.ports, benchOptions)));
const securePoliciesFile = join(WORK, "ab-policies-secure.json");
writeFileSync(securePoliciesFile, JSON.stringify(securePolicies(upstreams.ports, benchOptions)));
const identity = await secureSetup();
const bytesPoliciesFile = join(WORK, "ab-policies-bytes.json");
writeFileSync(bytesPoliciesFile, JSON.stringify(bytesPolicies(upstreams.ports, Object.values(identity.headers)[0]!.length, benchOptions)));
// gateway_observed's spans go here; its count shows they were exported.
const collector = await startCollector();
const log = process.env.AB_ACCESS_LOG ?? "off";
const variants: (Variant & { name: string; arg: string; log: string; sessions: number[] })[] = [];
for (const [i, arg] of args.entries()) {
  const name = String.fromCharCode(65 + i);
  // A gateway argument with "+log" runs with the access log on, whatever AB_ACCESS_LOG says.
  const withLog = arg.endsWith("+log");
  const builds = { gateway: () => bundle(join(ROOT, "wrangler.toml"), join(WORK, `ab-${name}`)), peer: () => bundle(PEER_WRANGLER_TOML, join(WORK, `ab-${name}`)) };
  variants.push({ name, arg, ...(await parseVariant(withLog ? arg.slice(0, -"+log".length) : arg, builds)), log: withLog ? "on" : log, sessions: [] });
}
const vars = deployedVars(join(ROOT, "wrangler.toml"));
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/**
 * One workerd with COPIES isolates of each variant (each Worker is an isolate of its own; a gateway's
 * copies share one control plane, as a deploy's isolates do). An isolate keeps its own cost for its
 * lifetime (JIT and heap differ between isolates of the same code by ±10 %), so a session's figure for
 * a variant is the mean over its copies of each copy's least over ROUNDS rounds.
 */
async function session(index: number): Promise<void> {
  const workers: { variant: (typeof variants)[0]; name: string; port: number; cpu: number[]; sys: number[] }[] = [];
  const specs: WorkerSpec[] = [];
  for (const v of variants) {
    let bindings = peerBindings(upstreams.ports);
    if (v.kind === "gateway") {
      // Fresh Durable Object storage: counters left from an earlier run would not hurt, but need not linger.
      rmSync(join(WORK, `ab-do-${v.name}`), { recursive: true, force: true });
      const cp = controlPlane(`${v.name}-control-plane`, v.bundle, join(WORK, `ab-do-${v.name}`), vars, { issuerKey: identity.issuerKey });
      const policies = v.secure ? securePoliciesFile : v.bytes ? bytesPoliciesFile : policiesFile;
      const observed = v.observed === true;
      bindings = cp.gatewayBindings(
        [{ name: "MESH_POLICIES", file: policies }, { name: "ACCESS_LOG", text: v.log }, ...(observed ? observedBindings(collector, v.sampleRatio) : [])],
        { identity: v.issuer === true, observability: observed },
      );
      specs.push(cp.host);
    }
    for (let copy = 1; copy <= COPIES; copy++) {
      const worker = { variant: v, name: `${v.name}${copy}`, port: await freePort(), cpu: [] as number[], sys: [] as number[] };
      // The peer reads its origins from text bindings (the same three endpoints); it has no control plane.
      specs.push({ name: worker.name, bundle: v.bundle, port: worker.port, bindings });
      workers.push(worker);
    }
  }
  // In turns: A1, B1, A2, B2, …, so that the machine's drift hits every variant alike.
  workers.sort((a, b) => a.name.slice(1).localeCompare(b.name.slice(1)) || a.name.localeCompare(b.name));
  const workerd = await startWorkerd(join(WORK, "ab.capnp"), specs, WORK);
  try {
    const headersOf = (w: (typeof workers)[0]) => (w.variant.secure || w.variant.bytes ? identity.headers : undefined);
    for (const w of workers) await runWrk({ url: `http://127.0.0.1:${w.port}${BENCH_PATH}`, host: BENCH_HOST, headers: headersOf(w), connections: 50, seconds: 2 });
    for (let round = 1; round <= ROUNDS; round++) {
      const line: string[] = [];
      for (const w of workers) {
        const before = threadCpuMs(workerd.process.pid!);
        const sysBefore = systemMs(workerd.process.pid!);
        const result = await runWrk({ url: `http://127.0.0.1:${w.port}${BENCH_PATH}`, host: BENCH_HOST, headers: headersOf(w), connections: 50, seconds: SECONDS });
        // An error answer costs less than a proxied one: a Worker that fails would look fast.
        if (result.non2xx > 0) throw new Error(`${w.name} (${w.variant.kind}) answered ${result.non2xx} of ${result.requests} requests with a non-2xx status`);
        const us = ((threadCpuMs(workerd.process.pid!) - before) * 1000) / result.requests;
        w.cpu.push(us);
        w.sys.push(((systemMs(workerd.process.pid!) - sysBefore) * 1000) / result.requests);
        line.push(`${w.name} ${us.toFixed(0)}`);
      }
      console.log(`session ${index} round ${round}, us/req: ${line.join(", ")}`);
    }
  } finally {
    await workerd.stop();
  }
  // Other load on the machine only adds to a round's figure: an isolate's least is its own cost.
  for (const v of variants) v.sessions.push(mean(workers.filter((w) => w.variant === v).map((w) => Math.min(...w.cpu))));
  // The kernel's share (system time, in clock ticks: a mean, not a least), to tell syscalls from the isolate's work.
  console.log(`session ${index} system time, us/req: ${variants.map((v) => `${v.name} ${mean(workers.filter((w) => w.variant === v).flatMap((w) => w.sys)).toFixed(0)}`).join(", ")}`);
}

try {
  for (let index = 1; index <= SESSIONS; index++) await session(index);
  const first = variants[0]!;
  for (const v of variants) {
    // Each session's ratio to A: one workerd, the variants measured seconds apart.
    const ratios = v.sessions.map((us, index) => us / first.sessions[index]!);
    console.log(
      `CPU per request: ${v.name} (${v.arg}) ${median(v.sessions).toFixed(0)} us; ratio to A ${mean(ratios).toFixed(3)} ` +
        `(sessions: ${ratios.map((ratio) => ratio.toFixed(2)).join(", ")})`,
    );
  }
  console.log(`${SESSIONS} sessions x ${COPIES} isolates per variant x ${ROUNDS} rounds of ${SECONDS} s; gateway access log ${log} (on for "+log")`);
  if (variants.some((v) => v.observed)) {
    const { spans, exports } = collector.received;
    if (!spans && variants.some((v) => v.observed && Number(v.sampleRatio ?? TRACE_SAMPLE_RATIO) > 0)) throw new Error("gateway_observed: the OTLP collector received no spans");
    console.log(`OTLP collector: ${spans} spans in ${exports} exports`);
  }
} finally {
  await upstreams.close();
  await collector.close();
}
