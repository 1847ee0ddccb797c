/**
 * `npx tsx bench/hotpath.ts <a> [<b> …]`: the gateway's own CPU per request, without the network, for
 * one or more gateway builds. Each runs its bundle in a harness Worker (bench/hotpath-harness.js)
 * whose fetch() answers at once as the benchmark's upstream does, on the benchmark's request and
 * policies (control plane on: a RateLimiter and a BackendCoordinator in the same workerd). As in
 * bench:scale, one request runs k gateway requests, workerd's CPU time (every thread's schedstat)
 * across it is taken, an empty request's subtracted, and the least of HOTPATH_RUNS (21) runs kept:
 * other load on the machine only adds. The builds are measured in turns, round after round, and each
 * round's ratio to the first build is taken too. The ratio of the least figures is the steadier one
 * on a busy machine (load only adds); the median of the rounds' ratios says how much they agree.
 * Steadier than bench/ab.ts for a change of a few µs; ab.ts, with the network, stays the real figure.
 * Arguments: `gateway` (the working tree, bundled here) or a gateway bundle (`wrangler deploy
 * --dry-run --outdir <dir>`), each with any of the flags "+log" (the access log on; HOTPATH_ACCESS_LOG
 * sets it for all: off by default), "+issuer" (the Issuer bound: caller tokens toward the upstream, as
 * bench/variants.ts's gateway_issuer) and "+secure" (gateway_secure: STRICT, the client's workload
 * token, the AuthorizationPolicies; implies +issuer). HOTPATH_CONTROL_PLANE (on), HOTPATH_CHECK (on:
 * a build with the Issuer must send the caller token, one without must not; "off" for a build that
 * leaves it out on purpose), HOTPATH_TARGET_MS (60), HOTPATH_K (sized to the target).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { bundle, freePort, startWorkerd, threadCpuMs, type Bundle, type WorkerSpec } from "./workerd.ts";
import { COMPATIBILITY_DATE } from "./variants.ts";
import { secureSetup, securePolicies } from "./secure.ts";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(import.meta.dirname, ".work", "hotpath");
const RUNS = Number(process.env.HOTPATH_RUNS ?? 21);
const TARGET_MS = Number(process.env.HOTPATH_TARGET_MS ?? 60);

const args = process.argv.slice(2);
if (!args.length) throw new Error("usage: tsx bench/hotpath.ts <gateway | <gateway-bundle.js>> …");

cleanUpOnExit();
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
const policiesFile = join(WORK, "policies.json");
// The ports are never dialled: fetch() answers inside the isolate.
const benchOptions = { controlPlane: process.env.HOTPATH_CONTROL_PLANE !== "off" };
writeFileSync(policiesFile, JSON.stringify(benchPolicies([9101, 9102, 9103], benchOptions)));
const securePoliciesFile = join(WORK, "policies-secure.json");
writeFileSync(securePoliciesFile, JSON.stringify(securePolicies([9101, 9102, 9103], benchOptions)));
const identity = await secureSetup();
const FLAGS = new Set(["log", "issuer", "secure"]);
const log = process.env.HOTPATH_ACCESS_LOG ?? "off";
const vars = deployedVars(join(ROOT, "wrangler.toml"));
const harness: Bundle = { script: join(import.meta.dirname, "hotpath-harness.js"), compatibilityDate: COMPATIBILITY_DATE };

const variants = await Promise.all(
  args.map(async (arg, i) => {
    const [file = "", ...flags] = arg.split("+");
    for (const flag of flags) if (!FLAGS.has(flag)) throw new Error(`${arg}: unknown flag +${flag} (${[...FLAGS].map((f) => `+${f}`).join(", ")})`);
    const gateway: Bundle = file === "gateway" ? await bundle(join(ROOT, "wrangler.toml"), join(WORK, `gateway-${i}`)) : { script: resolve(file), compatibilityDate: COMPATIBILITY_DATE };
    const secure = flags.includes("secure");
    const issuer = secure || flags.includes("issuer");
    return { arg, name: `v${i}`, gateway, log: flags.includes("log") ? "on" : log, secure, issuer, port: await freePort(), best: Infinity };
  }),
);
const workerd = await startWorkerd(
  join(WORK, "hotpath.capnp"),
  variants.flatMap((v): WorkerSpec[] => {
    const cp = controlPlane(`${v.name}-control-plane`, v.gateway, join(WORK, `do-${v.name}`), vars, { issuerKey: identity.issuerKey });
    // The harness sends HOTPATH_HEADERS with every request (the secure client's workload token).
    const headers = { name: "HOTPATH_HEADERS", text: JSON.stringify(v.secure ? identity.headers : {}) };
    const bindings = cp.gatewayBindings([{ name: "MESH_POLICIES", file: v.secure ? securePoliciesFile : policiesFile }, { name: "ACCESS_LOG", text: v.log }, headers], { identity: v.issuer });
    return [cp.host, { name: v.name, bundle: harness, modules: [{ name: "gateway.js", file: v.gateway.script }], port: v.port, bindings }];
  }),
  WORK,
);
const pid = workerd.process.pid!;

/** The harness's request that runs k gateway requests on the benchmark's host and path. */
const harnessUrl = (port: number, k: number) => `http://127.0.0.1:${port}/?k=${k}&host=${BENCH_HOST}&path=${encodeURIComponent(BENCH_PATH)}`;

async function run(port: number, k: number): Promise<number> {
  const before = threadCpuMs(pid);
  const response = await fetch(harnessUrl(port, k));
  const text = await response.text();
  if (!response.ok) throw new Error(`harness on port ${port}: ${response.status} ${text}`);
  return threadCpuMs(pid) - before;
}

try {
  // Warm up (compile the table, JIT the path), and size k to TARGET_MS for each.
  const ks: number[] = [];
  for (const v of variants) {
    for (let i = 0; i < 5; i++) await run(v.port, 200);
    // A variant with the Issuer must send the caller token upstream once warm, or it measures less than it says.
    const checked = await fetch(`${harnessUrl(v.port, 20)}&check=1`);
    const tokens = Number(checked.headers.get("x-caller-tokens"));
    if (!checked.ok || (process.env.HOTPATH_CHECK !== "off" && tokens !== (v.issuer ? 20 : 0))) throw new Error(`${v.arg}: ${tokens} of 20 upstream requests carried a caller token (${checked.status} ${await checked.text()})`);
    let empty = Infinity;
    for (let i = 0; i < 20; i++) empty = Math.min(empty, await run(v.port, 0));
    const probe = (await run(v.port, 1000)) - empty;
    ks.push(Math.max(100, Math.round((1000 * TARGET_MS) / probe)));
    Object.assign(v, { empty });
  }
  const k = Number(process.env.HOTPATH_K ?? Math.min(...ks));
  const rounds: number[][] = [];
  for (let r = 0; r < RUNS; r++) {
    const round: number[] = [];
    for (const v of variants) {
      const us = (((await run(v.port, k)) - (v as unknown as { empty: number }).empty) * 1000) / k;
      v.best = Math.min(v.best, us);
      round.push(us);
    }
    rounds.push(round);
  }
  // The builds ran seconds apart in each round: its ratios are steadier than figures of different rounds.
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  variants.forEach((v, i) => {
    const ratio = median(rounds.map((round) => round[i]! / round[0]!));
    console.log(`${v.arg}: least ${v.best.toFixed(1)} us per request (${(v.best / variants[0]!.best).toFixed(3)}x the first's); median of the rounds' ratios to the first ${ratio.toFixed(3)}`);
  });
} catch (error) {
  console.error(workerd.stderrTail());
  throw error;
} finally {
  await workerd.stop();
}
