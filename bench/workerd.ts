/**
 * workerd run directly (not `wrangler dev`, whose Node proxy makes it ~20x slower): bundles made by
 * `wrangler deploy --dry-run`, a generated capnp config, and the process itself.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { capnpConfig, type WorkerSpec } from "./capnp.ts";
import { stop, track } from "./children.ts";

const ROOT = join(import.meta.dirname, "..");
const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "linux-64",
  "linux-arm64": "linux-arm64",
  "darwin-x64": "darwin-64",
  "darwin-arm64": "darwin-arm64",
};

/** The workerd binary from the platform package miniflare installs (the `workerd` package's bin is a Node shim). */
export function workerdBinary(): string {
  const suffix = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (!suffix) throw new Error(`no workerd build for ${process.platform}-${process.arch}`);
  const pkg = createRequire(join(ROOT, "package.json")).resolve(`@cloudflare/workerd-${suffix}/package.json`);
  return join(dirname(pkg), "bin", "workerd");
}

export interface Bundle {
  /** The bundled ES module. */
  script: string;
  compatibilityDate: string;
}

/** Bundles a Worker exactly as `wrangler deploy` would, offline. */
export async function bundle(wranglerConfig: string, outdir: string): Promise<Bundle> {
  const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
  const args = ["deploy", "--dry-run", "-c", wranglerConfig, "--outdir", outdir];
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };
  try {
    await promisify(execFile)(wrangler, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`wrangler ${args.join(" ")} failed:\n${stderr ?? ""}${stdout ?? ""}`);
  }
  const toml = readFileSync(wranglerConfig, "utf8");
  const field = (name: string) => {
    const value = new RegExp(`^${name}\\s*=\\s*"([^"]+)"`, "m").exec(toml)?.[1];
    if (!value) throw new Error(`no ${name} in ${wranglerConfig}`);
    return value;
  };
  // wrangler names the bundle after the entry point: main = "x/index.ts" gives index.js.
  const script = join(outdir, basename(field("main")).replace(/\.[cm]?[jt]s$/, ".js"));
  if (!existsSync(script)) throw new Error(`wrangler wrote no ${script}`);
  return { script, compatibilityDate: field("compatibility_date") };
}

export type { Binding, WorkerSpec } from "./capnp.ts";

export interface Workerd {
  readonly process: ChildProcess;
  /** Where workerd's stdout (the gateway's access log) goes. */
  readonly stdoutFile: string;
  /** Where workerd's stderr (warnings and errors, the gateway's console.error) goes. */
  readonly stderrFile: string;
  /** The last lines workerd wrote to stderr, for error messages. */
  stderrTail(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Starts `workerd serve` and waits until every socket accepts connections. stdout (the gateway's access
 * log) goes to a file so the terminal is not flooded; so does stderr, whose tail is shown on failure.
 */
export interface StartOptions {
  /** A command workerd runs under (valgrind and its arguments); it must exec workerd in its own process. */
  launcher?: string[];
  /** How long the sockets may take to open (15 s; far longer under valgrind). */
  startTimeoutMs?: number;
}

export async function startWorkerd(configPath: string, workers: WorkerSpec[], logDir: string, extraArgs: string[] = [], options: StartOptions = {}): Promise<Workerd> {
  writeFileSync(configPath, capnpConfig(configPath, workers));
  // workerd does not create a Durable Object storage directory; it refuses to start without one.
  for (const worker of workers) if (worker.durableObjects) mkdirSync(worker.durableObjects.dir, { recursive: true });
  const stdoutFile = join(logDir, "workerd.stdout.log");
  const stderrFile = join(logDir, "workerd.stderr.log");
  const child = track(
    spawn(options.launcher?.[0] ?? workerdBinary(), [...(options.launcher ? [...options.launcher.slice(1), workerdBinary()] : []), "serve", configPath, ...extraArgs], {
      stdio: ["ignore", openSync(stdoutFile, "w"), openSync(stderrFile, "w")],
    }),
  );
  const stderrTail = (lines = 30) => {
    const text = existsSync(stderrFile) ? readFileSync(stderrFile, "utf8") : "";
    return text.split("\n").slice(-lines - 1).join("\n");
  };
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `workerd exited (${signal ?? code})`));
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const deadline = Date.now() + startTimeoutMs;
  for (const worker of workers) {
    while (worker.port !== undefined && !(await accepts(worker.port))) {
      if (exited || Date.now() > deadline) {
        await stop(child);
        throw new Error(`${exited ?? `workerd did not open its sockets within ${startTimeoutMs / 1000} s`}; its stderr:\n${stderrTail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { process: child, stdoutFile, stderrFile, stderrTail, stop: () => stop(child) };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** The fields of /proc/<pid>/stat after the command name (which is in parentheses and may hold spaces); undefined without /proc. */
function procStat(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has used so far (user + system), from /proc; undefined where there is no /proc.
 * Divided by the requests served, it shows a Worker's cost per request even when other load on the
 * machine moves the req/s figures.
 */
export function cpuMs(pid: number): number | undefined {
  // utime is the 12th field after the name, stime the 13th.
  const fields = procStat(pid);
  return fields && ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** System (kernel) CPU ms of the process, every thread's, from /proc in clock ticks; 0 where there is no /proc. */
export function systemMs(pid: number): number {
  const fields = procStat(pid);
  return fields ? (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SECOND : 0;
}

/**
 * CPU ms the process has used, every thread counted (V8's GC helpers too): from each thread's
 * schedstat, in nanoseconds, where the kernel has it; else cpuMs, in 10 ms ticks.
 */
export function threadCpuMs(pid: number): number {
  if (!existsSync(`/proc/${pid}/task/${pid}/schedstat`)) return cpuMs(pid)!;
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1e6;
}

/** A port nobody listens on now (the kernel's pick); workerd binds it a moment later. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
