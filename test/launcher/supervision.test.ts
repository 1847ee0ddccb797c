/**
 * `npm start`'s supervision, on a small child instead of the whole demo (which runs wrangler dev): the
 * same launcher code (scripts/launcher/) under a real `npm start` of test/launcher/fixture.ts. Its
 * children die with it however it dies, and a backgrounded start outlives the shell that started it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TSX = join(root, "node_modules/.bin/tsx");
const FIXTURE = join(root, "test/launcher/fixture.ts");
/** Every wait has its bound: the watchdog's grace is 1 s, its checks run every 0.5 s, the launcher's every 1 s. */
const BOUND_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const serving = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + BOUND_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${BOUND_MS} ms`);
    await sleep(50);
  }
}

/** A package whose `npm start` runs the fixture on `port`, as the repo's runs scripts/start.ts. */
function packageFor(port: number): string {
  const dir = mkdtempSync(join(tmpdir(), "edgemesh-start-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "start-fixture", private: true, scripts: { start: `${TSX} ${FIXTURE} ${port}` } }));
  return dir;
}
const npmEnv = { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" };
const idsIn = (text: string) => {
  const line = text.split("\n").find((l) => l.startsWith('{"launcher"'));
  return line ? (JSON.parse(line) as { launcher: number; pgid: number }) : undefined;
};

const started: { npm?: ChildProcess; launcher?: number; pgid?: number }[] = [];
afterEach(() => {
  // Only what these tests started, by pid and process group.
  for (const { npm, launcher, pgid } of started.splice(0)) {
    for (const kill of [() => pgid && process.kill(-pgid, "SIGKILL"), () => launcher && process.kill(launcher, "SIGKILL"), () => npm?.kill("SIGKILL")]) {
      try {
        kill();
      } catch {
        // Gone already.
      }
    }
  }
});

async function npmStart(port: number) {
  const npm = spawn("npm", ["start"], { cwd: packageFor(port), env: npmEnv, stdio: ["ignore", "pipe", "pipe"] });
  const entry: (typeof started)[number] = { npm };
  started.push(entry);
  let output = "";
  npm.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  npm.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  await until("the fixture says who it is", () => idsIn(output) !== undefined);
  Object.assign(entry, idsIn(output));
  await until("the child serves", () => serving(port));
  return { npm, ...idsIn(output)!, output: () => output };
}

describe("the launcher's children die with it", () => {
  it("frees the port when the launcher is killed with SIGKILL", async () => {
    const port = await freePort();
    const { launcher, pgid } = await npmStart(port);
    process.kill(launcher, "SIGKILL");
    await until("the port is free again", async () => !(await serving(port)));
    await until("the child's process group is gone", () => !alive(-pgid));
  });

  it("stops everything when npm itself is killed with SIGKILL", async () => {
    const port = await freePort();
    const { npm, launcher, pgid, output } = await npmStart(port);
    npm.kill("SIGKILL");
    await until("the launcher is gone", () => !alive(launcher));
    await until("the port is free again", async () => !(await serving(port)));
    expect(alive(-pgid)).toBe(false);
    expect(output()).toMatch(/\[fixture\] stopping \(launcher process \d+ went away\)/);
  });
});

describe("a backgrounded start", () => {
  it("keeps serving, with stdin at /dev/null, after the shell that started it exits", async () => {
    const port = await freePort();
    const dir = packageFor(port);
    const log = join(dir, "start.log");
    // A script: start in the background, wait until it is up (bounded), exit.
    const script = `nohup npm start > ${log} 2>&1 < /dev/null &
for i in $(seq 300); do grep -q '^{"launcher"' ${log} 2>/dev/null && exit 0; sleep 0.1; done; exit 1`;
    const shell = spawn("sh", ["-c", script], { cwd: dir, env: npmEnv, detached: true, stdio: "ignore" });
    const shellExit = await new Promise<number | null>((resolve) => shell.once("exit", resolve));
    expect(shellExit).toBe(0);
    const ids = idsIn(readFileSync(log, "utf8"))!;
    started.push(ids);
    await until("the child serves", () => serving(port));
    // The launcher checks its parents every second: give it three chances to stop by mistake.
    await sleep(3_000);
    expect(await serving(port)).toBe(true);
    expect(alive(ids.launcher)).toBe(true);
    expect(readFileSync(log, "utf8")).not.toContain("stopping");

    process.kill(ids.launcher, "SIGTERM");
    await until("the port is free again", async () => !(await serving(port)));
    await until("the launcher is gone", () => !alive(ids.launcher));
    expect(readFileSync(log, "utf8")).toMatch(/\[fixture\] stopping \(SIGTERM\)\n[^]*\[fixture\] stopped/);
  });
});

