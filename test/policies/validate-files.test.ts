/** `npm run validate` names files as the user named them (absolute when outside the working directory), never as "../x.yaml". */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { displayPath } from "../../policies/cli/files.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TSX = join(root, "node_modules/.bin/tsx");
const VALIDATE = join(root, "policies/cli/validate.ts");
const BAD = "apiVersion: edgemesh.dev/v1alpha1\nkind: Backend\nmetadata: { name: x }\nspec: {}\n";
const ERROR = "4:7: Backend/x spec: must set exactly one of worker or endpoints";

async function validate(cwd: string, ...files: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(TSX, [VALIDATE, ...files], { cwd });
    return { code: 0, stderr: "" };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe("file names in validation errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "edgemesh-validate-"));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "bad.yaml"), BAD);
  writeFileSync(join(dir, "sub", "bad.yaml"), BAD);

  it("prints a file outside the working directory by the absolute path it was given", async () => {
    const { code, stderr } = await validate(root, join(dir, "bad.yaml"));
    expect(code).toBe(1);
    expect(stderr.split("\n")[0]).toBe(`${join(dir, "bad.yaml")}:${ERROR}`);
  });

  it("prints relative names exactly as written, ./ and ../ included", async () => {
    const { stderr } = await validate(join(dir, "sub"), "bad.yaml", "./bad.yaml", "../bad.yaml");
    expect(stderr.split("\n").slice(0, 3)).toEqual([`bad.yaml:${ERROR}`, `./bad.yaml:${ERROR}`, `../bad.yaml:${ERROR}`]);
  });

  it("names the default files relative to the working directory inside it, absolute outside", () => {
    expect(displayPath(join(process.cwd(), "policies", "bookinfo.yaml"))).toBe(join("policies", "bookinfo.yaml"));
    expect(displayPath(join(process.cwd(), "..", "x.yaml"))).toBe(join(process.cwd(), "..", "x.yaml"));
    expect(displayPath("/elsewhere/x.yaml")).toBe("/elsewhere/x.yaml");
  });
});
