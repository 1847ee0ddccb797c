/**
 * `npm run bench:profile`: where the gateway's CPU goes. Runs the benchmark's gateway (access log on,
 * or off with PROFILE_ACCESS_LOG=off) under workerd with its V8 inspector, puts it under wrk load,
 * records a CPU profile over the inspector protocol, and prints the functions with the most self time.
 * The raw profile is kept in bench/.work/gateway.cpuprofile (Chrome DevTools opens it). As in
 * `npm run bench` the control plane is on (its Durable Objects run in another isolate, not profiled);
 * PROFILE_CONTROL_PLANE=off profiles the policies without health checking and global rate limits;
 * PROFILE_SECURE=on profiles `gateway_secure` (bench/secure.ts: STRICT, a workload token from wrk,
 * caller tokens from the Issuer, two AuthorizationPolicies);
 * PROFILE_OBSERVED=on profiles `gateway_observed` (bench/observed.ts: METRICS bound, 10 % of traces
 * exported to a loopback OTLP collector);
 * PROFILE_BUNDLE=<bundle.js> profiles another gateway-shaped build (a file of bench/floor/, an older
 * gateway bundle) in its place. Each function's share of the isolate thread's busy samples is also
 * given in µs per request: that share of workerd's CPU time per request over the profiled run (from
 * /proc; the samples' own intervals are wall time, which other load on the machine stretches).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import WebSocket from "ws";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { observedBindings, startCollector } from "./observed.ts";
import { secureSetup, securePolicies } from "./secure.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { startUpstreams } from "./upstream.ts";
import { bundle, freePort, startWorkerd, threadCpuMs } from "./workerd.ts";
import { runWrk } from "./wrk.ts";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(import.meta.dirname, ".work");
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

async function main(): Promise<void> {
  cleanUpOnExit();
  mkdirSync(WORK, { recursive: true });
  const own = await bundle(join(ROOT, "wrangler.toml"), join(WORK, "gateway"));
  // The control plane's Durable Objects always come from the working tree's gateway.
  const gateway = process.env.PROFILE_BUNDLE ? { ...own, script: resolve(process.env.PROFILE_BUNDLE) } : own;
  const upstreams = await startUpstreams(3);
  const policiesFile = join(WORK, "policies.json");
  const secure = process.env.PROFILE_SECURE === "on";
  const identity = await secureSetup();
  const options = { controlPlane: process.env.PROFILE_CONTROL_PLANE !== "off" };
  writeFileSync(policiesFile, JSON.stringify(secure ? securePolicies(upstreams.ports, options) : benchPolicies(upstreams.ports, options)));
  const [port, inspectorPort] = [await freePort(), await freePort()];
  rmSync(join(WORK, "profile-do"), { recursive: true, force: true });
  const cp = controlPlane("control-plane", own, join(WORK, "profile-do"), deployedVars(join(ROOT, "wrangler.toml")), { issuerKey: identity.issuerKey });
  const observability = process.env.PROFILE_OBSERVED === "on";
  const collector = await startCollector();
  const bindings = cp.gatewayBindings(
    [{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: process.env.PROFILE_ACCESS_LOG ?? "on" }, ...(observability ? observedBindings(collector) : [])],
    { observability, identity: secure },
  );
  const workerd = await startWorkerd(
    join(WORK, "config.capnp"),
    [cp.host, { name: "gateway", bundle: gateway, port, bindings }],
    WORK,
    [`--inspector-addr=127.0.0.1:${inspectorPort}`],
  );
  try {
    const url = `http://127.0.0.1:${port}${BENCH_PATH}`;
    const headers = secure ? identity.headers : undefined;
    await runWrk({ url, host: BENCH_HOST, connections: 50, seconds: 2, headers });
    const inspector = await connectInspector(inspectorPort, "gateway");
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.send("Profiler.start");
    const cpuBefore = threadCpuMs(workerd.process.pid!);
    const load = await runWrk({ url, host: BENCH_HOST, connections: 50, seconds: SECONDS, headers });
    const cpuUs = (threadCpuMs(workerd.process.pid!) - cpuBefore) * 1000;
    const { profile } = (await inspector.send("Profiler.stop")) as { profile: Profile };
    inspector.close();
    writeFileSync(join(WORK, "gateway.cpuprofile"), JSON.stringify(profile));
    report(profile, load.requests, cpuUs / load.requests, sourceMapOf(gateway.script));
    if (observability) console.log(`OTLP collector: ${collector.received.spans} spans in ${collector.received.exports} exports`);
  } finally {
    await workerd.stop();
    await upstreams.close();
    await collector.close();
  }
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs since the previous sample; sample i stands for the interval up to sample i + 1. */
  timeDeltas: number[];
}

/**
 * Self time per function, in µs per request: native frames (Headers, fetch, timers) are counted both
 * on their own and folded into the JavaScript function that called them, which is what a change to
 * the gateway's code can move.
 */
/** The bundle's source map (wrangler writes index.js.map beside it), to name the files functions come from. */
function sourceMapOf(script: string): { map: SourceMap; dir: string } | undefined {
  return existsSync(`${script}.map`) ? { map: new SourceMap(JSON.parse(readFileSync(`${script}.map`, "utf8"))), dir: dirname(script) } : undefined;
}

function report(profile: Profile, requests: number, cpuPerRequest: number, sources: { map: SourceMap; dir: string } | undefined): void {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Where a function is in the sources: "workers/gateway/attempt/send.ts:17" (or the bundle's line).
  const sourceOf = (frame: ProfileNode["callFrame"]) => {
    const entry = sources?.map.findEntry(frame.lineNumber, frame.columnNumber ?? 0) as { originalSource?: string; originalLine?: number } | undefined;
    if (!entry?.originalSource) return { file: frame.url.split("/").pop()!, line: frame.lineNumber + 1 };
    const file = relative(ROOT, resolve(sources!.dir, entry.originalSource)).replace(/^node_modules\/([^/]+(\/[^/]+)?)\/.*$/, "node_modules/$1");
    return { file, line: entry.originalLine! + 1 };
  };
  const label = (node: ProfileNode) => {
    const frame = node.callFrame;
    if (!frame.url) return frame.functionName || "(anonymous)";
    const { file, line } = sourceOf(frame);
    return `${frame.functionName || "(anonymous)"} ${file}:${line}`;
  };
  const fileOf = (node: ProfileNode) => (node.callFrame.url ? sourceOf(node.callFrame).file : `(native: ${node.callFrame.functionName || "anonymous"})`);
  const own = new Map<string, number>();
  const folded = new Map<string, number>();
  const byFile = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    let node = byNode.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    add(own, label(node), us);
    while (!node.callFrame.url && parentOf.has(node.id) && byNode.get(parentOf.get(node.id)!)!.callFrame.functionName !== "(root)") {
      node = byNode.get(parentOf.get(node.id)!)!;
    }
    add(folded, label(node), us);
    add(byFile, fileOf(node), us);
  }
  const perRequest = (us: number) => ((us / busy) * cpuPerRequest).toFixed(1).padStart(6);
  const top = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([key, us]) => `${perRequest(us)} µs ${((us * 100) / busy).toFixed(1).padStart(5)}%  ${key}`);
  console.log(`\n${requests} requests; workerd CPU ${cpuPerRequest.toFixed(0)} µs per request; the isolate thread was idle ${((idle * 100) / (idle + busy)).toFixed(0)} % of the samples' time`);
  console.log("self time, top 40:");
  for (const line of top(own)) console.log(line);
  console.log("self time with native calls folded into their JavaScript caller, top 40:");
  for (const line of top(folded)) console.log(line);
  console.log("the same by source file (native time no JavaScript called: by function):");
  for (const line of top(byFile)) console.log(line);
}

async function connectInspector(port: number, worker: string) {
  // One target per Worker (isolate): the gateway's, not the control plane's.
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => t.id === worker);
  if (!target) throw new Error(`no inspector target for Worker ${worker} in ${targets.map((t) => t.id).join(", ")}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send(method: string, params: object = {}): Promise<unknown> {
      const id = nextId++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => pending.set(id, resolve));
    },
    close: () => socket.close(),
  };
}

await main();
