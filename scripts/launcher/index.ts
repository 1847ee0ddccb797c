/**
 * A launcher for long-running local processes (`npm start`): it runs commands in supervised process
 * groups (group.ts) that die with it however it dies, stops everything in order on SIGINT, SIGTERM or
 * SIGHUP and when a process that launched it goes away (launchers.ts), and reads no terminal or stdin,
 * so it runs the same in the foreground, under `nohup … &` from a script, or with stdin at /dev/null.
 */
import { startGroup, type GroupOptions, type SupervisedGroup } from "./group.ts";
import { watchLaunchers } from "./launchers.ts";

export type { SupervisedGroup } from "./group.ts";

export interface Launcher {
  readonly stopping: boolean;
  /** Runs a command in a supervised group; when it exits on its own, the launcher stops (exit code 1). */
  spawn(name: string, command: string, args: readonly string[], options?: GroupOptions): SupervisedGroup;
  /** Work to do on the way out, after the groups are gone (close servers, say goodbye), in order. */
  onStop(cleanup: () => void | Promise<void>): void;
  /** Stops the groups, runs the cleanups and exits; once. */
  stop(why: string, exitCode: number): Promise<void>;
}

export function createLauncher(tag: string): Launcher {
  const groups: SupervisedGroup[] = [];
  const cleanups: (() => void | Promise<void>)[] = [];
  let stopping = false;

  const launcher: Launcher = {
    get stopping() {
      return stopping;
    },
    spawn(name, command, args, options) {
      const group = startGroup(name, command, args, options);
      groups.push(group);
      void group.exited.then(({ code, signal }) => launcher.stop(`${name} exited on its own (${signal ?? `code ${code}`})`, 1));
      return group;
    },
    onStop(cleanup) {
      cleanups.push(cleanup);
    },
    async stop(why, exitCode) {
      if (stopping) return;
      stopping = true;
      console.error(`[${tag}] stopping (${why})`);
      await Promise.all(groups.map((group) => group.stop()));
      for (const cleanup of cleanups) await cleanup();
      process.exit(exitCode);
    },
  };

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void launcher.stop(signal, 0));
  // Last resort, if this process dies of an error: the watchdogs would notice, but do not wait for them.
  process.on("exit", () => groups.forEach((group) => group.kill()));
  watchLaunchers((why) => void launcher.stop(why, 0));
  return launcher;
}
