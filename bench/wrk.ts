/** Runs wrk (one thread: two cores, one for workerd) and parses the numbers the benchmark reports. */
import { spawn, spawnSync } from "node:child_process";
import { track } from "./children.ts";

export interface WrkRun {
  url: string;
  connections: number;
  seconds: number;
  /** Sent as a Host header (capitalized: wrk only skips its own Host header when it sees "Host:"). */
  host?: string | undefined;
  /** More request headers (gateway_secure's workload token). */
  headers?: Record<string, string> | undefined;
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  socketErrors: string | undefined;
}

const hasWrk = () => spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;

/** Makes sure wrk is on PATH: installs the Debian package when running as root, or says how to. */
export function ensureWrk(): void {
  if (hasWrk()) return;
  if (process.getuid?.() === 0 && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).error === undefined) {
    console.log("bench: wrk is missing; installing the Debian package (apt-get install -y wrk)");
    const install = () => spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit" }).status === 0;
    // A fresh container may have no package lists yet.
    if (!install()) {
      spawnSync("apt-get", ["update"], { stdio: "inherit" });
      install();
    }
    if (hasWrk()) return;
  }
  throw new Error(
    "wrk (the HTTP load generator) is not installed.\n" +
      "  Debian/Ubuntu: sudo apt-get install -y wrk\n" +
      "  macOS:         brew install wrk\n" +
      "then run `npm run bench` again.",
  );
}

export async function runWrk(run: WrkRun): Promise<WrkResult> {
  const args = ["-t1", `-c${run.connections}`, `-d${run.seconds}s`, "--latency"];
  if (run.host) args.push("-H", `Host: ${run.host}`);
  for (const [name, value] of Object.entries(run.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(run.url);
  const child = track(spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] }));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    // "close", not "exit": only then has all of its stdout been read.
    child.once("close", (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new Error(`wrk ${args.join(" ")} exited with ${code}:\n${stderr}${stdout}`);
  try {
    return parseWrk(stdout);
  } catch (error) {
    throw new Error(`cannot parse the output of wrk ${args.join(" ")}: ${(error as Error).message}\n${stdout}`);
  }
}

export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp, what: string) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`no ${what} in wrk's output`);
    return Number(match[1]);
  };
  const socket = /Socket errors: (connect \d+, read \d+, write \d+, timeout \d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  return {
    requests: number(/(\d+) requests in /, "request count"),
    rps: number(/Requests\/sec:\s+([\d.]+)/, "Requests/sec"),
    p50_ms: percentileMs(output, 50),
    p99_ms: percentileMs(output, 99),
    // wrk prints these lines only when there was at least one.
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket?.[1],
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function percentileMs(output: string, percentile: number): number {
  const match = new RegExp(`^\\s*${percentile}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(output);
  if (!match) throw new Error(`no ${percentile}% latency (was --latency given?)`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Fails loudly when a run saw anything but 2xx answers on healthy sockets: its numbers would mean nothing. */
export function assertClean(result: WrkResult, what: string): void {
  if (result.requests === 0) throw new Error(`${what}: wrk completed no request`);
  if (result.non2xx > 0) throw new Error(`${what}: ${result.non2xx} of ${result.requests} responses were not 2xx/3xx`);
  if (result.socketErrors) throw new Error(`${what}: wrk saw socket errors (${result.socketErrors})`);
}
