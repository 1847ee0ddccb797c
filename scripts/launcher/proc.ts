/**
 * What Linux's /proc says about a process: parent, process group, command line, environment and
 * working directory. Everything is undefined when the process is gone, belongs to someone else, or
 * there is no /proc (then the launcher watches nothing and relies on its signals and the watchdog).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export function statOf(pid: number): { state: string; ppid: number; pgid: number } | undefined {
  try {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so read after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: state!, ppid: Number(ppid), pgid: Number(pgid) };
  } catch {
    return undefined;
  }
}

export function commandLineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** One variable of the environment a process started with. */
export function environmentOf(pid: number, name: string): string | undefined {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((e) => e.startsWith(`${name}=`));
    return entry?.slice(name.length + 1);
  } catch {
    return undefined;
  }
}

export function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** The live (not zombie) processes of a process group other than `except`, or undefined without /proc. */
export function groupMembers(pgid: number, except: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  return entries
    .filter((entry) => /^[0-9]+$/.test(entry) && Number(entry) !== except)
    .filter((entry) => {
      const stat = statOf(Number(entry));
      return stat?.pgid === pgid && stat.state !== "Z";
    })
    .map(Number);
}
