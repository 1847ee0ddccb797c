/**
 * `npm start`: the gateway and the bookinfo demo mesh (policies/bookinfo.yaml) on 127.0.0.1.
 *  - Node origins in this process: details on 9101-9103 (details-c fails half its requests), a spare
 *    details-d on 9104 that is in no policy (register it at run time through the admin API), and
 *    reviews v1/v2/v3 on 9111-9113;
 *  - one `wrangler dev` running the gateway (port 8787) with the productpage and ratings Workers,
 *    which it reaches over service bindings.
 * Ctrl-C or SIGTERM stops all of it. See docs/demo.md for the walkthrough.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { startDetails, type DetailsEndpoint } from "./demo/details.ts";
import { startReviews, type ReviewsVersion } from "./demo/reviews.ts";

const HOST = "127.0.0.1";
const GATEWAY_PORT = 8787;
const DETAILS: DetailsEndpoint[] = [
  { name: "details-a", port: 9101, zone: "a", failureRate: 0 },
  { name: "details-b", port: 9102, zone: "b", failureRate: 0 },
  { name: "details-c", port: 9103, zone: "c", failureRate: 0.5 },
  { name: "details-d", port: 9104, zone: "d", failureRate: 0 },
];
const REVIEWS: { version: ReviewsVersion; port: number }[] = [
  { version: "v1", port: 9111 },
  { version: "v2", port: 9112 },
  { version: "v3", port: 9113 },
];
const WRANGLER_CONFIGS = ["wrangler.toml", "workers/demo/productpage.toml", "workers/demo/ratings.toml"];
/** The admin API's token for this local mesh; `npm run mesh` uses the same default. */
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "edgemesh-dev-token";
/** A cold start builds three Workers and runs the policy bundler first. */
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;

const root = fileURLToPath(new URL("..", import.meta.url));
const servers: Server[] = [];
let wrangler: ChildProcess | undefined;
let stopping = false;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** Checks every port up front, so that a busy one fails the start before anything runs. */
async function checkPorts(): Promise<void> {
  const ports = [GATEWAY_PORT, ...DETAILS.map((d) => d.port), ...REVIEWS.map((r) => r.port)];
  const busy = [];
  for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
  if (busy.length) {
    throw new Error(
      `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} on ${HOST} ${busy.length > 1 ? "are" : "is"} already in use ` +
        `(another \`npm start\`?). Find the owner with: ss -ltnp 'sport = :${busy[0]}'`,
    );
  }
}

function startWrangler(): ChildProcess {
  const args = ["dev", ...WRANGLER_CONFIGS.flatMap((config) => ["-c", config])];
  args.push("--ip", HOST, "--port", String(GATEWAY_PORT), "--persist-to", ".mesh-state", "--var", `ADMIN_TOKEN:${ADMIN_TOKEN}`);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.resolve("wrangler/bin/wrangler.js")), ...args], {
    cwd: root,
    // Its own process group, so that stopping kills wrangler and its workerd and esbuild children
    // together, and a terminal's Ctrl-C reaches only this script, which then stops things in order.
    detached: true,
    // No stdin: wrangler's hotkeys would take over the terminal.
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  child.once("exit", (code, signal) => {
    if (!stopping) void stop(`wrangler exited on its own (${signal ?? `code ${code}`})`, 1);
  });
  return child;
}

async function waitForGateway(): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (stopping) return;
    try {
      // Any answer with a request id comes from the gateway itself (a redirect to /productpage).
      const response = await fetch(`http://${HOST}:${GATEWAY_PORT}/`, { redirect: "manual" });
      await response.body?.cancel();
      if (response.headers.has("x-request-id")) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`the gateway did not answer on http://${HOST}:${GATEWAY_PORT} within ${READY_TIMEOUT_MS / 1000} s`);
}

/** Whether any process of wrangler's group is still alive (signal 0 only checks). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopWrangler(): Promise<void> {
  const pgid = wrangler?.pid;
  if (pgid === undefined || !groupAlive(pgid)) return;
  process.kill(-pgid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (groupAlive(pgid)) {
    console.error(`[start] wrangler did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
    process.kill(-pgid, "SIGKILL");
  }
}

async function stop(why: string, exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`[start] stopping (${why})`);
  await stopWrangler();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  console.error(`[start] stopped${wrangler ? ": wrangler, workerd and the demo origins are gone" : ""}`);
  process.exit(exitCode);
}

/** Parent pid and process group of a process, from /proc (Linux); undefined when it is gone or there is no /proc. */
function parentOf(pid: number): { ppid: number; pgid: number } | undefined {
  try {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so read after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(ppid), pgid: Number(pgid) };
  } catch {
    return undefined;
  }
}

/**
 * `kill <pid of npm start>`: npm passes SIGTERM to its `sh -c`, which dies without passing it on to
 * tsx and this script. So watch the launchers (the ancestors in this job's process group: tsx, sh,
 * npm) and stop when one of them goes away.
 */
function watchLaunchers(): void {
  const self = parentOf(process.pid);
  if (!self) return;
  const chain = new Map<number, number>();
  for (let pid = process.ppid, parent = parentOf(pid); parent && parent.pgid === self.pgid && pid > 1; pid = parent.ppid, parent = parentOf(pid)) {
    chain.set(pid, parent.ppid);
  }
  setInterval(() => {
    for (const [pid, ppid] of chain) {
      const now = parentOf(pid);
      if (now?.ppid !== ppid) return void stop(`launcher process ${now ? ppid : pid} went away`, 0);
    }
  }, 1000).unref();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(signal, 0));
// Last resort, if this script dies of an error: never leave a detached wrangler behind.
process.on("exit", () => {
  if (wrangler?.pid !== undefined && groupAlive(wrangler.pid)) process.kill(-wrangler.pid, "SIGKILL");
});

watchLaunchers();
try {
  await checkPorts();
  for (const endpoint of DETAILS) servers.push(await startDetails(endpoint));
  for (const { version, port } of REVIEWS) servers.push(await startReviews({ version, port, gatewayPort: GATEWAY_PORT }));
  console.error(`[start] origins up: details on ${DETAILS.map((d) => d.port).join(", ")}, reviews on ${REVIEWS.map((r) => r.port).join(", ")}`);
  wrangler = startWrangler();
  await waitForGateway();
  if (!stopping) {
    console.error(
      `\n[start] edgemesh demo mesh ready: http://${HOST}:${GATEWAY_PORT}/productpage\n` +
        `[start] admin API: http://${HOST}:${GATEWAY_PORT}/admin (token ${ADMIN_TOKEN}); try: npm run mesh -- status\n` +
        `[start] walkthrough: docs/demo.md. Ctrl-C stops everything.\n`,
    );
  }
} catch (error) {
  console.error(`[start] ${(error as Error).message}`);
  await stop("start failed", 1);
}
