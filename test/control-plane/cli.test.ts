/** `npm run mesh`: the CLI against a running mesh's admin API, over real HTTP. */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";

let mesh: TestGateway;
let url: string;
const dir = mkdtempSync(join(tmpdir(), "edgemesh-cli-"));

const yamlFor = (target: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: a }
spec: { endpoints: [{ url: "http://127.0.0.1:9" }] }
---
apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: b }
spec: { endpoints: [{ url: "http://127.0.0.1:10" }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: app }
spec:
  hostnames: [app.test]
  rules: [{ backendRefs: [{ name: ${target} }] }]
`;

/** One CLI run; the tests run several each, so each test gets several times this. */
const CLI_TIMEOUT_MS = 20_000;

async function mesh_(args: string[], env: Record<string, string> = {}) {
  try {
    // node --import tsx, not npx (which costs a second per run on a busy machine); a hung CLI is killed.
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/mesh/index.ts", ...args], {
      env: { ...process.env, MESH_ADMIN_URL: url, MESH_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      timeout: CLI_TIMEOUT_MS,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A port nothing listens on. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  mesh = await TestGateway.start([backend("a", ["http://127.0.0.1:9"]), backend("b", ["http://127.0.0.1:10"]), simpleRoute("app", "app.test", "a")], { isolates: 1 });
  url = await mesh.url();
  await mesh.fetch("http://app.test/");
  writeFileSync(join(dir, "to-a.yaml"), yamlFor("a"));
  writeFileSync(join(dir, "to-b.yaml"), yamlFor("b"));
  writeFileSync(join(dir, "bad.yaml"), yamlFor("nowhere"));
  writeFileSync(join(dir, "empty.yaml"), "# nothing here\n");
});

afterAll(() => mesh.dispose());

// Each test runs the CLI a few times as a process: its time is several CLI_TIMEOUT_MS, not the default 30 s.
describe("npm run mesh", { timeout: 120_000 }, () => {
  it("status: the stored and served versions", async () => {
    const { code, stdout } = await mesh_(["status"]);
    expect(code).toBe(0);
    expect(stdout).toContain("stored version: 1");
    expect(stdout).toContain("served version: 1");
  });

  it("apply: previews the diff, refuses to go on without a terminal or --yes, then applies", async () => {
    const file = join(dir, "to-b.yaml");
    const refused = await mesh_(["apply", file]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("Changes from version 1:\n  ~ HTTPRoute/app\n      spec.rules[0].backendRefs[0].name: \"a\" → \"b\"");
    expect(refused.stderr).toContain("Not a terminal: pass --yes to go ahead.");
    const applied = await mesh_(["apply", file, "--yes", "-m", "move app to b"]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain("Version 2 is live (was 1).");
  });

  it("apply: shows local validation errors and sends nothing", async () => {
    const { code, stderr } = await mesh_(["apply", join(dir, "bad.yaml"), "--yes"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/bad\.yaml:16:\d+: HTTPRoute\/app spec\.rules\[0\]\.backendRefs\[0\]\.name: refers to unknown Backend "nowhere"/);
    expect(stderr).toContain("nothing was sent");
  });

  it("history, diff, rollback and audit", async () => {
    const history = await mesh_(["history"]);
    expect(history.stdout).toMatch(/^v2 .* apply +break-glass:ADMIN_TOKEN +3 docs +move app to b$/m);
    const diff = await mesh_(["diff", "1", "2"]);
    expect(diff.stdout).toContain("~ HTTPRoute/app");
    const rollback = await mesh_(["rollback", "1", "--yes"]);
    expect(rollback.stdout).toContain("Version 3 is live (was 2).");
    const audit = await mesh_(["audit"]);
    expect(audit.stdout.split("\n")[0]).toMatch(/^#3 .* rollback v2 → 3 +break-glass:ADMIN_TOKEN/);
  });

  it("says so when the documents are already the current version's, and makes no version", async () => {
    const apply = await mesh_(["apply", join(dir, "to-a.yaml"), "--yes"]);
    expect(apply).toMatchObject({ code: 0, stdout: "no change: version 3 already has these documents\n" });
    const rollback = await mesh_(["rollback", "1", "--yes"]);
    expect(rollback).toMatchObject({ code: 0, stdout: "no change: version 3 already has these documents\n" });
    expect((await mesh_(["history"])).stdout.split("\n")[0]).toMatch(/^v3 /);
  });

  it("prints stored text escaped: a message with newlines or escape codes cannot forge lines", async () => {
    const forged = "move app to b\nv99  2030-01-01 00:00:00Z  apply    mallory (admin token)   3 docs  all is well\u001b[31m\u009b2J";
    expect((await mesh_(["apply", join(dir, "to-b.yaml"), "--yes", "-m", forged])).code).toBe(0);
    const history = await mesh_(["history"]);
    const escaped = "move app to b\\nv99  2030-01-01 00:00:00Z  apply    mallory (admin token)   3 docs  all is well\\u001b[31m\\u009b2J";
    expect(history.stdout.split("\n")[0]).toMatch(/^v4 .* apply +break-glass:ADMIN_TOKEN +3 docs +/);
    expect(history.stdout.split("\n")[0]!.endsWith(escaped)).toBe(true);
    expect(history.stdout).not.toMatch(/^v99/m);
    expect(history.stdout).not.toMatch(/[\u001b\u009b]/);
    const audit = await mesh_(["audit", "--limit", "1"]);
    expect(audit.stdout.split("\n")[0]!.endsWith(`break-glass:ADMIN_TOKEN  "${escaped}"`)).toBe(true);
    expect(audit.stdout).not.toMatch(/[\u001b\u009b]/);
  });

  it("backends: endpoints and their state", async () => {
    const { stdout } = await mesh_(["backends"]);
    expect(stdout).toContain("a (http)\n  http://127.0.0.1:9");
  });

  it("explains a wrong token, an unreachable API and an unknown command", async () => {
    expect((await mesh_(["status"], { MESH_ADMIN_TOKEN: "wrong" })).stderr).toContain("mesh: the admin API refused the token: set MESH_ADMIN_TOKEN");
    const closed = await freePort();
    const unreachable = await mesh_(["status"], { MESH_ADMIN_URL: `http://127.0.0.1:${closed}` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`mesh: cannot reach the admin API at http://127.0.0.1:${closed} (ECONNREFUSED). Is the mesh running (npm start)?`);
    expect((await mesh_(["rollback", "zero"])).stderr).toContain("mesh: usage: rollback <version>");
  });

  it("help, --help, -h and no command print the usage and exit 0; an unknown command or option prints it to stderr and exits 1", async () => {
    const helps = [["help"], ["--help"], ["-h"], []];
    const [unknown, option, ...answers] = await Promise.all([["launch"], ["status", "--bogus"], ...helps].map((args) => mesh_(args)));
    for (const [i, { code, stdout, stderr }] of answers.entries()) {
      expect({ args: helps[i], code, stderr }).toEqual({ args: helps[i], code: 0, stderr: "" });
      expect(stdout).toMatch(/^usage: npm run mesh -- <command> \[options\]\n/);
      expect(stdout).toContain("  rollback <version> [--yes] [-m msg] [--allow-empty]");
    }
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown!.stderr).toMatch(/^mesh: unknown command "launch"\n\nusage: npm run mesh -- <command>/);
    expect(option).toMatchObject({ code: 1, stdout: "" });
    expect(option!.stderr).toMatch(/^mesh: Unknown option '--bogus'.*\n\nusage: npm run mesh/);
  });

  it("refuses files without documents unless --allow-empty says so", async () => {
    const refused = await mesh_(["apply", join(dir, "empty.yaml"), "--yes"]);
    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toBe("mesh: the files hold no documents: applying them would remove every route and backend; pass --allow-empty to do that on purpose\n");
    const emptied = await mesh_(["apply", join(dir, "empty.yaml"), "--yes", "--allow-empty"]);
    expect(emptied.code).toBe(0);
    expect(emptied.stdout).toContain("Version 5 is live (was 4).");
    const rollback = await mesh_(["rollback", "5", "--yes"]);
    expect(rollback).toMatchObject({ code: 1, stderr: "mesh: version 5 has no documents: it would remove every route and backend; pass --allow-empty to do that on purpose\n" });
  });
});
