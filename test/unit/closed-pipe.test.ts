/**
 * The command line tools end quietly when their reader goes away (`npm run mesh -- audit | head`):
 * no EPIPE stack, and status 141 as a Unix tool killed by SIGPIPE, rather than Node's unhandled write error.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

/** Runs a CLI whose stdout is closed before it writes; its exit code and stderr. */
function runWithClosedStdout(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    // The reader goes away at once: the CLI's first write finds the pipe closed.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // A hung CLI is a failure too: bounded.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not exit within 60 s`));
    }, 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("a closed pipe", () => {
  it.each([
    ["scripts/mesh/index.ts", ["help"]],
    ["policies/cli/validate.ts", []],
  ])("%s ends with status 141 and no EPIPE error", async (script, args) => {
    const { code, stderr } = await runWithClosedStdout(script, args);
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(141);
  }, 90_000);
});
