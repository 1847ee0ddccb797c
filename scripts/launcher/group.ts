/**
 * A command run in a process group of its own under a watchdog (watchdog.ts), so that one signal to
 * the group reaches it and everything it starts (wrangler, workerd, esbuild), a terminal's Ctrl-C
 * reaches only the launcher (which then stops things in order), and the group dies with the launcher
 * however the launcher dies: the watchdog holds the other end of a pipe only the launcher has open.
 */
import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";

const WATCHDOG = fileURLToPath(new URL("./watchdog.ts", import.meta.url));

export interface SupervisedGroup {
  /** The process group (the watchdog's pid). */
  readonly pgid: number;
  /** Settles when the watchdog exits: the command ended on its own (its exit code), or the group was stopped. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to every process of the group, SIGKILL to what is left after the grace; resolves once all are gone. */
  stop(): Promise<void>;
  /** SIGKILL to the group now: for process "exit", where nothing can be awaited. */
  kill(): void;
}

export interface GroupOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long the group has to stop after SIGTERM before SIGKILL. */
  graceMs?: number;
}

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

export function startGroup(name: string, command: string, args: readonly string[], { cwd, env, graceMs = 5_000 }: GroupOptions = {}): SupervisedGroup {
  // process.execArgv carries tsx's loader, which runs the watchdog's TypeScript.
  const watchdog = spawn(process.execPath, [...process.execArgv, WATCHDOG, String(graceMs), name, command, ...args], {
    cwd,
    env,
    detached: true,
    // No stdin (nothing here reads a terminal); fd 3 is the lifeline, never written.
    stdio: ["ignore", "inherit", "inherit", "pipe"],
  });
  (watchdog.stdio[3] as Socket).unref();
  const pgid = watchdog.pid!;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => watchdog.once("exit", (code, signal) => resolve({ code, signal })));
  const kill = () => {
    if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
  };
  return {
    pgid,
    exited,
    kill,
    async stop() {
      if (!groupAlive(pgid)) return;
      process.kill(-pgid, "SIGTERM");
      // The watchdog enforces the grace; this bound is for a watchdog that is itself stuck.
      const deadline = Date.now() + graceMs + 2_000;
      while (groupAlive(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (groupAlive(pgid)) {
        console.error(`[launcher] ${name} (process group ${pgid}) did not stop within ${graceMs / 1000} s; killing it`);
        kill();
      }
    },
  };
}
