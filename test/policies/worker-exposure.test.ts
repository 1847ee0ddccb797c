/**
 * validate's warning for Worker backends that can be reached around the mesh, with temporary wrangler
 * configs: the binding maps to its Worker through the gateway's [[services]], the Worker's config is
 * found by its name (TOML, JSON, JSONC, environments), and each public route, workers.dev or preview
 * URL is named with its file and field; with workers_dev = false and no routes, nothing is said.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { workerExposure, type WranglerOptions } from "../../policies/cli/worker-exposure.ts";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TSX = join(root, "node_modules/.bin/tsx");
const VALIDATE = join(root, "policies/cli/validate.ts");

const POLICIES = `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: ratings }
spec:
  worker: { service: RATINGS }
`;
const GATEWAY = `name = "gw"\nmain = "index.ts"\n[[services]]\nbinding = "RATINGS"\nservice = "ratings-worker"\n`;

/** A project directory with a gateway config and the given files (path → text). */
function project(files: Record<string, string>, gateway = GATEWAY): string {
  const dir = mkdtempSync(join(tmpdir(), "edgemesh-exposure-"));
  writeFileSync(join(dir, "wrangler.toml"), gateway);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(options: WranglerOptions, yaml = POLICIES) {
  const result = parsePolicySet(loadYaml("policies.yaml", yaml).documents);
  if (!result.ok) throw new Error(result.errors.map(formatError).join("\n"));
  const report = workerExposure(result.set, options);
  return { warnings: report.warnings.map(formatError), notes: report.notes, errors: report.errors };
}

const AT = "policies.yaml:5:22: Backend/ratings spec.worker.service: ";
const around = (file: string) => `Worker "ratings-worker" (binding RATINGS) is reachable around the mesh (${file}): `;

describe("a Worker backend reachable around the mesh", () => {
  it("warns when workers_dev is left to wrangler's default, naming the backend, the file and the field", () => {
    const dir = project({ "workers/ratings.toml": 'name = "ratings-worker"\nmain = "ratings.ts"\n' });
    const file = join(dir, "workers/ratings.toml");
    expect(check({ gateway: join(dir, "wrangler.toml") })).toEqual({
      warnings: [
        `${AT}${around(file)}workers_dev is not set, and wrangler's default is true when there are no routes, so it is published at ratings-worker.<subdomain>.workers.dev (and its preview URLs with it); set workers_dev = false`,
      ],
      notes: [],
      errors: [],
    });
  });

  it("warns about routes, workers_dev = true and preview_urls = true, each on its own", () => {
    const dir = project({
      "ratings/wrangler.toml": 'name = "ratings-worker"\nworkers_dev = true\npreview_urls = true\nroutes = [{ pattern = "ratings.example.com/*", zone_name = "example.com" }]\n',
    });
    const file = join(dir, "ratings/wrangler.toml");
    expect(check({ gateway: join(dir, "wrangler.toml") }).warnings).toEqual([
      `${AT}${around(file)}routes gives it a public route ([{"pattern":"ratings.example.com/*","zone_name":"example.com"}]); remove routes`,
      `${AT}${around(file)}workers_dev = true publishes it at ratings-worker.<subdomain>.workers.dev; set workers_dev = false`,
      `${AT}${around(file)}preview_urls = true publishes each version at <version>-ratings-worker.<subdomain>.workers.dev; set preview_urls = false`,
    ]);
  });

  it("reads wrangler.jsonc, with comments and trailing commas, and a single route", () => {
    const dir = project({ "svc/wrangler.jsonc": '{\n  // the ratings Worker\n  "name": "ratings-worker",\n  "workers_dev": false,\n  "route": "ratings.example.com/*",\n}\n' });
    expect(check({ gateway: join(dir, "wrangler.toml") }).warnings).toEqual([
      `${AT}${around(join(dir, "svc/wrangler.jsonc"))}route gives it a public route (["ratings.example.com/*"]); remove route`,
    ]);
  });

  it("knows a Worker by its environment's name, and applies what the environment inherits", () => {
    const dir = project({ "ratings.toml": 'name = "ratings"\nworkers_dev = false\npreview_urls = false\n[env.worker]\nworkers_dev = true\n' });
    expect(check({ gateway: join(dir, "wrangler.toml") }).warnings).toEqual([
      `${AT}${around(join(dir, "ratings.toml"))}env.worker.workers_dev = true publishes it at ratings-worker.<subdomain>.workers.dev; set env.worker.workers_dev = false`,
    ]);
  });

  it("says nothing with workers_dev = false, preview_urls = false and no routes", () => {
    const dir = project({ "workers/ratings.toml": 'name = "ratings-worker"\nworkers_dev = false\npreview_urls = false\n' });
    expect(check({ gateway: join(dir, "wrangler.toml") })).toEqual({ warnings: [], notes: [], errors: [] });
    // preview_urls left unset follows workers_dev (Cloudflare's default): off too, nothing to say.
    const quiet = project({ "workers/ratings.toml": 'name = "ratings-worker"\nworkers_dev = false\n' });
    expect(check({ gateway: join(quiet, "wrangler.toml") }).warnings).toEqual([]);
  });

  it("passes over node_modules, dot-directories and TOML files that are not wrangler configs", () => {
    const dir = project({
      "node_modules/x/wrangler.toml": 'name = "ratings-worker"\n',
      ".wrangler/wrangler.toml": 'name = "ratings-worker"\n',
      "Cargo.toml": '[package]\nname = "x"\n',
      "broken.toml": "name = = \n",
    });
    expect(check({ gateway: join(dir, "wrangler.toml") })).toEqual({
      warnings: [],
      notes: ['Backend/ratings: no wrangler config names Worker "ratings-worker" (binding RATINGS): its routes were not checked (name its config with --wrangler)'],
      errors: [],
    });
  });

  it("uses only the configs named with --wrangler when there are any", () => {
    const dir = project({ "a/wrangler.toml": 'name = "ratings-worker"\n', "b/wrangler.toml": 'name = "ratings-worker"\nworkers_dev = false\n' });
    expect(check({ gateway: join(dir, "wrangler.toml"), workers: [join(dir, "b/wrangler.toml")] }).warnings).toEqual([]);
    expect(check({ gateway: join(dir, "wrangler.toml"), workers: [join(dir, "missing.toml")] }).errors).toEqual([
      `${join(dir, "missing.toml")}: cannot be read as a wrangler config (ENOENT)`,
    ]);
  });

  it("notes a binding that the gateway config does not have", () => {
    const dir = project({}, 'name = "gw"\n');
    expect(check({ gateway: join(dir, "wrangler.toml") }).notes).toEqual([
      `Backend/ratings: binding RATINGS is not among the [[services]] of ${join(dir, "wrangler.toml")}: its Worker's routes were not checked`,
    ]);
  });
});

describe("npm run validate", () => {
  const run = async (cwd: string, args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(TSX, [VALIDATE, ...args], { cwd });
      return { code: 0, stdout, stderr };
    } catch (error) {
      return error as { code: number; stdout: string; stderr: string };
    }
  };

  it("prints the warning, exits 0, and takes --gateway and --wrangler", async () => {
    const dir = project({ "ratings.toml": 'name = "ratings-worker"\n', "quiet.toml": 'name = "ratings-worker"\nworkers_dev = false\n' });
    writeFileSync(join(dir, "policies.yaml"), POLICIES);
    const found = await run(dir, ["policies.yaml", "--gateway", "wrangler.toml", "--wrangler", "ratings.toml"]);
    expect(found.code).toBe(0);
    expect(found.stderr.trim().split("\n")).toEqual([
      `warning: ${AT}${around("ratings.toml")}workers_dev is not set, and wrangler's default is true when there are no routes, so it is published at ratings-worker.<subdomain>.workers.dev (and its preview URLs with it); set workers_dev = false`,
    ]);
    const quiet = await run(dir, ["policies.yaml", "--gateway", "wrangler.toml", "--wrangler", "quiet.toml"]);
    expect({ code: quiet.code, stderr: quiet.stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("validates the repository's policies and demo Workers with no warning", async () => {
    const { code, stderr } = await run(root, []);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });
});
