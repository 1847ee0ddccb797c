/**
 * `npx tsx bench/ab.ts <a> <b> [<c> …]`: which of two (or more) Workers costs less CPU per request. All
 * run in one workerd, measured in turns (A, B, A, B, …) under the same wrk load, so that the machine's
 * drift (a shared VM moves single runs by ±30 %) hits them alike. Prints each round, the medians, and
 * the median of the rounds' ratios to A (each round's figures are seconds apart). Each argument is one of:
 *   gateway            the gateway as the working tree builds it (bundled here)
 *   peer               the peer, workers/peer, as the working tree builds it (bundled here)
 *   peer:<bundle.js>   a peer build (`npx wrangler deploy --dry-run -c workers/peer/wrangler.toml --outdir <dir>`)
 *   <bundle.js>        a gateway build (`npx wrangler deploy --dry-run --outdir <dir>`)
 * As in `npm run bench`, a gateway's control plane is on (each gateway hosts its own Durable
 * Objects); AB_CONTROL_PLANE=off measures the policies without health checking and global rate limits.
 * `npx tsx bench/ab.ts peer gateway` is the steadiest figure for the gateway against the peer. CPU time is
 * every workerd thread's, from /proc schedstat (nanoseconds).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { PEER_WRANGLER_TOML, peerBindings } from "./peer.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { startUpstreams } from "./upstream.ts";
import { bundle, freePort, startWorkerd, threadCpuMs, type Bundle, type WorkerSpec } from "./workerd.ts";
import { runWrk } from "./wrk.ts";

const WORK = join(import.meta.dirname, ".work");
const ROOT = join(import.meta.dirname, "..");
const ROUNDS = Number(process.env.AB_ROUNDS ?? 5);
const SECONDS = Number(process.env.AB_SECONDS ?? 3);

const COMPATIBILITY_DATE = "2026-04-20";

const args = process.argv.slice(2);
if (args.length < 2) throw new Error("usage: tsx bench/ab.ts <gateway | peer | peer:<bundle.js> | <gateway-bundle.js>> <same> [<same> …]");

/** What an argument names: a gateway or a peer, from the working tree (bundled now) or a built file. */
async function variant(arg: string, name: string): Promise<{ kind: "gateway" | "peer"; bundle: Bundle }> {
  if (arg === "gateway") return { kind: "gateway", bundle: await bundle(join(ROOT, "wrangler.toml"), join(WORK, `ab-${name}`)) };
  if (arg === "peer") return { kind: "peer", bundle: await bundle(PEER_WRANGLER_TOML, join(WORK, `ab-${name}`)) };
  if (arg.startsWith("peer:")) return { kind: "peer", bundle: { script: resolve(arg.slice("peer:".length)), compatibilityDate: COMPATIBILITY_DATE } };
  return { kind: "gateway", bundle: { script: resolve(arg), compatibilityDate: COMPATIBILITY_DATE } };
}

cleanUpOnExit();
mkdirSync(WORK, { recursive: true });
const upstreams = await startUpstreams(3);
const policiesFile = join(WORK, "ab-policies.json");
writeFileSync(policiesFile, JSON.stringify(benchPolicies(upstreams.ports, { controlPlane: process.env.AB_CONTROL_PLANE !== "off" })));
const log = process.env.AB_ACCESS_LOG ?? "off";
const variants: { name: string; arg: string; kind: "gateway" | "peer"; bundle: Bundle; port: number; cpu: number[] }[] = [];
for (const [i, arg] of args.entries()) {
  const name = String.fromCharCode(65 + i);
  variants.push({ name, arg, ...(await variant(arg, name)), port: await freePort(), cpu: [] });
}
const vars = deployedVars(join(ROOT, "wrangler.toml"));
const workerd = await startWorkerd(
  join(WORK, "ab.capnp"),
  variants.flatMap((v): WorkerSpec[] => {
    // The peer reads its origins from text bindings (the same three endpoints); it has no control plane.
    if (v.kind === "peer") return [{ name: v.name, bundle: v.bundle, port: v.port, bindings: peerBindings(upstreams.ports) }];
    // Fresh Durable Object storage: counters left from an earlier run would not hurt, but need not linger.
    rmSync(join(WORK, `ab-do-${v.name}`), { recursive: true, force: true });
    const cp = controlPlane(`${v.name}-control-plane`, v.bundle, join(WORK, `ab-do-${v.name}`), vars);
    const bindings = cp.gatewayBindings([{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: log }]);
    return [cp.host, { name: v.name, bundle: v.bundle, port: v.port, bindings }];
  }),
  WORK,
);
try {
  for (const v of variants) await runWrk({ url: `http://127.0.0.1:${v.port}${BENCH_PATH}`, host: BENCH_HOST, connections: 50, seconds: 2 });
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const v of variants) {
      const before = threadCpuMs(workerd.process.pid!);
      const result = await runWrk({ url: `http://127.0.0.1:${v.port}${BENCH_PATH}`, host: BENCH_HOST, connections: 50, seconds: SECONDS });
      // An error answer costs less than a proxied one: a Worker that fails would look fast.
      if (result.non2xx > 0) throw new Error(`${v.name} (${v.kind}) answered ${result.non2xx} of ${result.requests} requests with a non-2xx status`);
      const us = ((threadCpuMs(workerd.process.pid!) - before) * 1000) / result.requests;
      v.cpu.push(us);
      line.push(`${v.name} ${us.toFixed(0)} us/req (${result.requests} req)`);
    }
    console.log(`round ${round}: ${line.join(", ")}`);
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const first = variants[0]!;
  for (const v of variants) {
    // Each round's ratio to A: the variants ran seconds apart, so the machine's drift between rounds cancels out.
    const ratio = median(v.cpu.map((us, round) => us / first.cpu[round]!));
    console.log(`median CPU per request: ${v.name} (${v.arg}) ${median(v.cpu).toFixed(0)} us (${(median(v.cpu) / median(first.cpu)).toFixed(2)}x A's; median of the rounds' ratios to A ${ratio.toFixed(2)})`);
  }
  console.log(`gateway access log ${log}`);
} finally {
  await workerd.stop();
  await upstreams.close();
}
