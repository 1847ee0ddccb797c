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

async function mesh_(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)("npx", ["tsx", "scripts/mesh/index.ts", ...args], {
      env: { ...process.env, MESH_ADMIN_URL: url, MESH_ADMIN_TOKEN: ADMIN_TOKEN, MESH_ACTOR: "carol", ...env },
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
  writeFileSync(join(dir, "to-b.yaml"), yamlFor("b"));
  writeFileSync(join(dir, "bad.yaml"), yamlFor("nowhere"));
});

afterAll(() => mesh.dispose());

describe("npm run mesh", () => {
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
    expect(history.stdout).toMatch(/^v2 .* apply +carol \(admin token\) +3 docs +move app to b$/m);
    const diff = await mesh_(["diff", "1", "2"]);
    expect(diff.stdout).toContain("~ HTTPRoute/app");
    const rollback = await mesh_(["rollback", "1", "--yes"]);
    expect(rollback.stdout).toContain("Version 3 is live (was 2).");
    const audit = await mesh_(["audit"]);
    expect(audit.stdout.split("\n")[0]).toMatch(/^#3 .* rollback v2 → 3 +carol \(admin token\)/);
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
    expect((await mesh_(["launch"])).stderr).toContain('mesh: unknown command "launch"');
    expect((await mesh_(["rollback", "zero"])).stderr).toContain("mesh: usage: rollback <version>");
  });
});
