/**
 * `npm run bench:profile`: where the gateway's CPU goes. Runs the benchmark's gateway (access log on,
 * or off with PROFILE_ACCESS_LOG=off) under workerd with its V8 inspector, puts it under wrk load,
 * records a CPU profile over the inspector protocol, and prints the functions with the most self time.
 * The raw profile is kept in bench/.work/gateway.cpuprofile (Chrome DevTools opens it). As in
 * `npm run bench` the control plane is on (its Durable Objects run in another isolate, not profiled);
 * PROFILE_CONTROL_PLANE=off profiles the policies without health checking and global rate limits.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { cleanUpOnExit } from "./children.ts";
import { controlPlane, deployedVars } from "./control-plane.ts";
import { BENCH_HOST, BENCH_PATH, benchPolicies } from "./policies.ts";
import { startUpstreams } from "./upstream.ts";
import { bundle, freePort, startWorkerd } from "./workerd.ts";
import { runWrk } from "./wrk.ts";

const ROOT = join(import.meta.dirname, "..");
const WORK = join(import.meta.dirname, ".work");
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 8);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

async function main(): Promise<void> {
  cleanUpOnExit();
  mkdirSync(WORK, { recursive: true });
  const gateway = await bundle(join(ROOT, "wrangler.toml"), join(WORK, "gateway"));
  const upstreams = await startUpstreams(3);
  const policiesFile = join(WORK, "policies.json");
  writeFileSync(policiesFile, JSON.stringify(benchPolicies(upstreams.ports, { controlPlane: process.env.PROFILE_CONTROL_PLANE !== "off" })));
  const [port, inspectorPort] = [await freePort(), await freePort()];
  rmSync(join(WORK, "profile-do"), { recursive: true, force: true });
  const cp = controlPlane("control-plane", gateway, join(WORK, "profile-do"), deployedVars(join(ROOT, "wrangler.toml")));
  const bindings = cp.gatewayBindings([{ name: "MESH_POLICIES", file: policiesFile }, { name: "ACCESS_LOG", text: process.env.PROFILE_ACCESS_LOG ?? "on" }]);
  const workerd = await startWorkerd(
    join(WORK, "config.capnp"),
    [cp.host, { name: "gateway", bundle: gateway, port, bindings }],
    WORK,
    [`--inspector-addr=127.0.0.1:${inspectorPort}`],
  );
  try {
    const url = `http://127.0.0.1:${port}${BENCH_PATH}`;
    await runWrk({ url, host: BENCH_HOST, connections: 50, seconds: 2 });
    const inspector = await connectInspector(inspectorPort, "gateway");
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
    await inspector.send("Profiler.start");
    const load = await runWrk({ url, host: BENCH_HOST, connections: 50, seconds: SECONDS });
    const { profile } = (await inspector.send("Profiler.stop")) as { profile: { nodes: ProfileNode[]; samples: number[] } };
    inspector.close();
    writeFileSync(join(WORK, "gateway.cpuprofile"), JSON.stringify(profile));
    report(profile, load.requests);
  } finally {
    await workerd.stop();
    await upstreams.close();
  }
}

function report(profile: { nodes: ProfileNode[]; samples: number[] }, requests: number): void {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfSamples = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byNode.get(id)!.callFrame;
    const where = frame.url ? `${frame.url.split("/").pop()}:${frame.lineNumber + 1}` : "";
    const key = `${frame.functionName || "(anonymous)"} ${where}`.trim();
    selfSamples.set(key, (selfSamples.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  console.log(`\n${requests} requests, ${total} samples; self time, top 45:`);
  for (const [key, count] of [...selfSamples].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
    console.log(`${((count * 100) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
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
