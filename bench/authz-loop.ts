/**
 * `npx tsx bench/authz-loop.ts`: what the benchmark's two AuthorizationPolicies cost to evaluate when
 * the code is hot: bench/authz-loop-worker.ts evaluates them k times per request in workerd, and
 * workerd's CPU per request (the least of ROUNDS, an empty request's subtracted) is divided by k.
 * Against `bench/hotpath.ts` (the same evaluation inside the gateway, once per request among all the
 * rest) it tells the evaluation's own work from the cost of running it cold. See README, Benchmark.
 */
import { join } from "node:path";
import { cleanUpOnExit } from "./children.ts";
import { COMPATIBILITY_DATE } from "./variants.ts";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { bundle, freePort, startWorkerd, threadCpuMs } from "./workerd.ts";

const WORK = join(import.meta.dirname, ".work", "authz-loop");
const K = 100_000;
const ROUNDS = 15;
const OPS = ["none", "attrs", "eval", "get", "upper"] as const;
const MEANING: Record<(typeof OPS)[number], string> = {
  none: "the loop alone",
  attrs: "the call's attributes (authzRequestOf)",
  eval: "attributes and both policies evaluated",
  get: "one headers.get (the x-debug condition's read)",
  upper: "the method's toUpperCase",
};

cleanUpOnExit();
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
// Bundled as wrangler deploys a Worker, from a config of its own (the project's would add the gateway's).
const config = join(WORK, "wrangler.toml");
writeFileSync(config, `name = "authz-loop"\nmain = "${join(import.meta.dirname, "authz-loop-worker.ts")}"\ncompatibility_date = "${COMPATIBILITY_DATE}"\n`);
const built = await bundle(config, join(WORK, "out"));
const port = await freePort();
const workerd = await startWorkerd(join(WORK, "authz-loop.capnp"), [{ name: "authz-loop", bundle: built, port, bindings: [] }], WORK);
const pid = workerd.process.pid!;

async function cpuMs(op: string, k: number): Promise<number> {
  const before = threadCpuMs(pid);
  const response = await fetch(`http://127.0.0.1:${port}/?op=${op}&k=${k}`);
  if (!response.ok) throw new Error(`${op}: ${response.status} ${await response.text()}`);
  await response.text();
  return threadCpuMs(pid) - before;
}

try {
  for (const op of OPS) await cpuMs(op, K);
  const least: Record<string, number> = {};
  // Other load on the machine only adds: the least round is the work itself.
  for (let round = 0; round < ROUNDS; round++) for (const op of OPS) least[op] = Math.min(least[op] ?? Infinity, await cpuMs(op, K));
  for (const op of OPS.slice(1)) console.log(`${op}: ${(((least[op]! - least.none!) * 1e6) / K).toFixed(0)} ns per evaluation (${MEANING[op]})`);
} finally {
  await workerd.stop();
}
