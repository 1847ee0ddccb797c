/**
 * The watchdog: leader of a supervised process group (group.ts starts it detached), it runs one
 * command in its group and ends the whole group when the launcher dies, however it dies. Either sign
 * is enough: the lifeline on fd 3 (a pipe whose other end only the launcher holds) closes, which the
 * kernel does when the launcher exits, SIGKILL included; or this process's parent changes (it was
 * reparented). It also ends the group when told to (SIGTERM, SIGINT, SIGHUP to the group) and when the
 * command exits on its own, so that nothing it started (workerd behind wrangler) stays behind.
 *
 *   node watchdog.ts <graceMs> <name> <command> [args…]
 */
import { spawn } from "node:child_process";
import { Socket } from "node:net";
import { constants } from "node:os";
import { groupMembers } from "./proc.ts";

const [graceText, name, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceText);
const launcher = process.ppid;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Not detached: the command and whatever it starts share this process's group.
const child = spawn(command!, args, { stdio: ["ignore", "inherit", "inherit"] });
let childStatus: number | undefined;
child.once("exit", (code, signal) => {
  childStatus = code ?? 128 + (signal ? constants.signals[signal] : 0);
  void end(`${name} exited (${signal ?? `code ${code}`})`);
});
child.once("error", (error) => {
  console.error(`[watchdog] cannot run ${name} (${command}): ${error.message}`);
  childStatus = 127;
  void end("the command did not start");
});

let ending = false;

function signalGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** SIGTERM to the group, up to the grace for it to go, then SIGKILL to what is left (this process too). */
async function end(why: string): Promise<void> {
  if (ending) return;
  ending = true;
  if (why.startsWith("the launcher")) console.error(`[watchdog] ${why}: stopping ${name}`);
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  const othersAlive = () => childStatus === undefined || (groupMembers(process.pid, process.pid)?.length ?? 0) > 0;
  while (othersAlive() && Date.now() < deadline) await sleep(50);
  if (othersAlive()) signalGroup("SIGKILL");
  process.exit(childStatus ?? 1);
}

// This process's own SIGTERM from end() lands here too; `ending` makes it a no-op.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void end(`${signal} received`));

const lifeline = new Socket({ fd: 3, readable: true, writable: false });
lifeline.on("data", () => {});
for (const event of ["end", "close", "error"]) lifeline.once(event, () => void end("the launcher is gone (its lifeline closed)"));
setInterval(() => {
  if (process.ppid !== launcher) void end(`the launcher is gone (parent ${launcher} exited)`);
}, 500);
