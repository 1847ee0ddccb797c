/**
 * Every child process the benchmark starts (workerd, wrk), so that all of them die with it: on normal
 * exit, on failure and on Ctrl-C. Node does not kill children when it exits.
 */
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Stops a child politely, then for good if it has not exited within `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function killAll(): void {
  // Synchronous on purpose: this runs in the 'exit' handler, where nothing asynchronous happens.
  for (const child of children) child.kill("SIGKILL");
}

export function cleanUpOnExit(): void {
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping`);
      process.exit(130);
    });
  }
}
