/**
 * `npx tsx bench/ab.ts <bundle-a.js> <bundle-b.js>`: which of two gateway builds costs less CPU per
 * request. Both run in one workerd, measured in turns (A, B, A, B, …) under the same wrk load, so
 * that the machine's drift (a shared VM moves single runs by ±30 %) hits both alike. Prints each
 * round and the medians. Build a bundle with `npx wrangler deploy --dry-run --outdir <dir>`.
 * As in `npm run bench`, the control plane is on (each build hosts its own Durable Objects);
 * AB_CONTROL_PLANE=off measures the policies without health checking and global rate limits.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { startUpstreams } from "./upstream.ts";
import { cpuMs, freePort, startWorkerd } from "./workerd.ts";
import { runWrk } from "./wrk.ts";

const WORK = join(import.meta.dirname, ".work");
const ROOT = join(import.meta.dirname, "..");
const ROUNDS = Number(process.env.AB_ROUNDS ?? 5);
const SECONDS = Number(process.env.AB_SECONDS ?? 3);

const [a, b] = process.argv.slice(2).map((file) => resolve(file));
if (!a || !b) throw new Error("usage: tsx bench/ab.ts <bundle-a.js> <bundle-b.js>");

cleanUpOnExit();
const upstreams = await startUpstreams(3);
const policiesFile = join(WORK, "ab-policies.json");
writeFileSync(policiesFile, JSON.stringify(benchPolicies(upstreams.ports, { controlPlane: process.env.AB_CONTROL_PLANE !== "off" })));
const log = process.env.AB_ACCESS_LOG ?? "off";
const variants = [
  { name: "A", script: a, port: await freePort(), cpu: [] as number[] },
  { name: "B", script: b, port: await freePort(), cpu: [] as number[] },
];
const vars = deployedVars(join(ROOT, "wrangler.toml"));
const workerd = await startWorkerd(
  join(WORK, "ab.capnp"),
  variants.flatMap((v) => {
    const bundle = { script: v.script, compatibilityDate: "2026-04-20" };
    // Fresh Durable Object storage: counters left from an earlier run would not hurt, but need not linger.
    rmSync(join(WORK, `ab-do-${v.name}`), { recursive: true, force: true });
    const cp = controlPlane(`${v.name}-control-plane`, bundle, join(WORK, `ab-do-${v.name}`), vars);
    const bindings = cp.gatewayBindings([{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: log }]);
    return [cp.host, { name: v.name, bundle, port: v.port, bindings }];
  }),
  WORK,
);
try {
  for (const v of variants) await runWrk({ url: `http://127.0.0.1:${v.port}${BENCH_PATH}`, host: BENCH_HOST, connections: 50, seconds: 2 });
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const v of variants) {
      const before = cpuMs(workerd.process.pid!)!;
      const result = await runWrk({ url: `http://127.0.0.1:${v.port}${BENCH_PATH}`, host: BENCH_HOST, connections: 50, seconds: SECONDS });
      const us = ((cpuMs(workerd.process.pid!)! - before) * 1000) / result.requests;
      v.cpu.push(us);
      line.push(`${v.name} ${us.toFixed(0)} us/req (${result.requests} req)`);
    }
    console.log(`round ${round}: ${line.join(", ")}`);
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const [ma, mb] = variants.map((v) => median(v.cpu));
  console.log(`median CPU per request: A ${ma!.toFixed(0)} us, B ${mb!.toFixed(0)} us (B/A ${(mb! / ma!).toFixed(2)}), access log ${log}`);
} finally {
  await workerd.stop();
  await upstreams.close();
}
