/**
 * The processes that launched this one (`npm start`: npm, its `sh -c`, tsx) take it down when they
 * die: npm passes SIGTERM to its `sh -c`, which dies without passing it on, and `kill -9` passes
 * nothing at all. So every second this checks that each process of the launch still has the parent
 * it had. The launch ends at npm (or, without npm, at the first process that is no wrapper of this
 * script): the shell that ran `npm start &` may exit at any time, which is what running in the
 * background means, and it must not stop the demo.
 */
import { resolve } from "node:path";
import { commandLineOf, cwdOf, environmentOf, statOf } from "./proc.ts";

const CHECK_MS = 1_000;

/**
 * Each process of the launch and the parent it must keep. A process is of the launch if npm started
 * it for this script (its environment has this script's npm_lifecycle_script), or if its command line
 * runs this script (tsx). Its parent is watched if the parent is of the launch too, or is npm itself.
 */
export function launchChain(pid = process.pid, script = process.argv[1], marker = process.env.npm_lifecycle_script): Map<number, number> {
  const startedByNpm = (p: number) => marker !== undefined && environmentOf(p, "npm_lifecycle_script") === marker;
  const runsScript = (p: number) => {
    const cwd = cwdOf(p);
    return script !== undefined && cwd !== undefined && commandLineOf(p).some((arg) => resolve(cwd, arg) === script);
  };
  const chain = new Map<number, number>();
  for (let current = pid; current > 1; ) {
    const stat = statOf(current);
    if (!stat || stat.ppid <= 1) break;
    const parentOfLaunch = startedByNpm(stat.ppid) || runsScript(stat.ppid);
    if (!parentOfLaunch && !startedByNpm(current)) break;
    chain.set(current, stat.ppid);
    if (!parentOfLaunch) break;
    current = stat.ppid;
  }
  return chain;
}

/** Calls `onGone` once when a process of the launch loses its parent. */
export function watchLaunchers(onGone: (why: string) => void): void {
  const chain = launchChain();
  if (!chain.size) return;
  const timer = setInterval(() => {
    for (const [pid, ppid] of chain) {
      if (statOf(pid)?.ppid === ppid) continue;
      clearInterval(timer);
      return onGone(`launcher process ${statOf(pid) ? ppid : pid} went away`);
    }
  }, CHECK_MS);
  timer.unref();
}
