/** `npm run mesh` as a mesh identity and over the Issuer: whoami, keys, credentials, over real HTTP. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, TestGateway } from "../support/gateway.ts";
import { backend, simpleRoute } from "../support/policies.ts";
import { TRUST_DOMAIN } from "../support/tokens.ts";

const ADMIN = `spiffe://${TRUST_DOMAIN}/ns/platform/sa/deployer`;
const VIEWER = `spiffe://${TRUST_DOMAIN}/ns/default/sa/dashboard`;
const WORKLOAD = `spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews`;
const binding = (name: string, role: string, principal: string) => ({ apiVersion: "edgemesh.dev/v1alpha1", kind: "AdminRoleBinding", metadata: { name }, spec: { role, subjects: [{ principal }] } });

let mesh: TestGateway;
let url: string;
const secrets: Record<string, string> = {};
const CLI_TIMEOUT_MS = 20_000;

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/mesh/index.ts", ...args], {
      env: { ...process.env, MESH_ADMIN_URL: url, MESH_ADMIN_TOKEN: ADMIN_TOKEN, MESH_SPIFFE_ID: "", MESH_CREDENTIAL: "", ...env },
      timeout: CLI_TIMEOUT_MS,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
const as = (id: string) => ({ MESH_SPIFFE_ID: id, MESH_CREDENTIAL: secrets[id]! });

beforeAll(async () => {
  mesh = await TestGateway.start([backend("a", ["http://127.0.0.1:9"]), simpleRoute("app", "app.test", "a"), binding("deployers", "admin", ADMIN), binding("dashboards", "viewer", VIEWER)], {
    isolates: 1,
    vars: { MESH_TRUST_DOMAIN: TRUST_DOMAIN },
  });
  url = await mesh.url();
  for (const id of [ADMIN, VIEWER]) secrets[id] = (await mesh.admin<{ credential: string }>("POST", "/identity/credentials", { spiffeId: id })).body.credential;
});
afterAll(() => mesh?.dispose());

describe("npm run mesh, identity", { timeout: 120_000 }, () => {
  it("whoami: the admin token, or a mesh identity exchanged through the client module", async () => {
    const glass = await cli(["whoami"]);
    expect(glass.stdout).toBe("identity:    break-glass:ADMIN_TOKEN\nverified by: the admin token (break-glass)\nrole:        admin\n");
    const mesh_ = await cli(["whoami"], as(ADMIN));
    expect(mesh_).toMatchObject({ code: 0, stdout: `identity:    ${ADMIN}\nverified by: a workload token\nrole:        admin\n` });
  });

  it("keys, keys rotate, keys revoke <kid> as a mesh admin, audited as that identity", async () => {
    const listed = await cli(["keys"], as(ADMIN));
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^\S+ {2}signing +ES256 {2}published /m);
    const rotated = await cli(["keys", "rotate"], as(ADMIN));
    expect(rotated.code).toBe(0);
    const next = /^Published (\S+); it signs from /.exec(rotated.stdout)?.[1];
    expect(next).toBeDefined();
    expect(rotated.stdout).toMatch(new RegExp(`^${next} {2}published `, "m"));
    // After --: a kid is base64url and may start with "-", which parseArgs would take for an option.
    const revoked = await cli(["keys", "revoke", "--yes", "--", next!], as(ADMIN));
    expect(revoked).toMatchObject({ code: 0 });
    expect(revoked.stdout).toContain(`Revoked ${next}.`);
    expect(revoked.stdout).not.toContain(`${next}  `);
    const audit = await cli(["audit", "--limit", "2"]);
    expect(audit.stdout).toMatch(new RegExp(`^#\\d+ .* revoke_key +${ADMIN}  ${next}$`, "m"));
    expect(audit.stdout).toMatch(new RegExp(`^#\\d+ .* rotate_key +${ADMIN}  ${next}$`, "m"));
  });

  it("a kid that starts with \"-\" goes after --; without it the CLI says so", async () => {
    const unparsed = await cli(["keys", "revoke", "-Abc123", "--yes"], as(ADMIN));
    expect(unparsed.code).toBe(1);
    expect(unparsed.stderr).toContain('(a value that starts with "-", such as a kid, goes after --)');
    // After --, the kid reaches the issuer (which has no such key).
    const passed = await cli(["keys", "revoke", "--yes", "--", "-Abc123"], as(ADMIN));
    expect(passed.code).toBe(1);
    expect(passed.stderr).toMatch(/-Abc123/);
  });

  it("credentials create prints the secret alone on stdout; list; delete", async () => {
    const created = await cli(["credentials", "create", WORKLOAD], as(ADMIN));
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toContain("shown this once");
    const exchanged = await mesh.fetch("http://any.test/edgemesh/token", { method: "POST", body: JSON.stringify({ spiffeId: WORKLOAD, credential: created.stdout.trim() }) });
    expect(exchanged.status).toBe(200);
    await exchanged.arrayBuffer();
    const listed = await cli(["credentials"], as(VIEWER));
    expect(listed.stdout).toMatch(new RegExp(`^${WORKLOAD}  made \\d{4}-`, "m"));
    expect(listed.stdout).not.toContain(created.stdout.trim());
    expect((await cli(["credentials", "list"])).stdout).toBe(listed.stdout);
    const deleted = await cli(["credentials", "delete", WORKLOAD, "--yes"], as(ADMIN));
    expect(deleted).toMatchObject({ code: 0 });
    expect((await cli(["credentials"])).stdout).not.toContain(WORKLOAD);
    expect((await cli(["credentials", "delete", "reviews", "--yes"])).stderr).toContain("mesh: usage: credentials delete <spiffe-id>");
  });

  it("explains a role too low, a refused credential and half an identity", async () => {
    const denied = await cli(["keys", "rotate"], as(VIEWER));
    expect(denied).toMatchObject({ code: 1, stdout: "" });
    expect(denied.stderr).toBe(`mesh: not allowed: POST /admin/identity/keys/rotate needs the admin role; ${VIEWER} (verified by a workload token) has the viewer role\n`);
    const wrong = await cli(["whoami"], { MESH_SPIFFE_ID: ADMIN, MESH_CREDENTIAL: "x".repeat(43) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`mesh: no workload token for ${ADMIN}: token exchange refused (401)`);
    const half = await cli(["whoami"], { MESH_SPIFFE_ID: ADMIN });
    expect(half.stderr).toBe("mesh: set both MESH_SPIFFE_ID and MESH_CREDENTIAL to call as a mesh identity (or neither, to use MESH_ADMIN_TOKEN)\n");
  });

  it("help lists the identity commands", async () => {
    const { stdout } = await cli(["help"]);
    for (const line of ["  whoami ", "  keys rotate ", "  keys revoke <kid> [--yes]", "  credentials create <spiffe-id> ", "  credentials delete <spiffe-id> [--yes]", "MESH_SPIFFE_ID"]) expect(stdout).toContain(line);
  });
});
