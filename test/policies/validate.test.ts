/** Policy validation: the exact error text users see, for each kind of mistake, and the CLI's exit codes. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PolicyDocument } from "../../policies/schema/index.ts";
import { BACKENDS, errorsOf, route } from "../support/policy-text.ts";


describe("field errors name the file, line, object and field", () => {
  it("reports a weight out of range where the issue's example puts it", () => {
    const yaml = route(`  rules:
    - backendRefs: [{ name: reviews-v1 }]
    - backendRefs:
        - name: reviews-v1
          weight: 2000000
`);
    expect(errorsOf(yaml)).toEqual(["routes.yaml:23:19: HTTPRoute/reviews spec.rules[1].backendRefs[0].weight: must be at most 1000000"]);
  });

  it("reports misspelt fields instead of ignoring them", () => {
    const yaml = route(`  rules:
    - backendRefs: [{ name: reviews-v1 }]
      timeout: { request: 5s }
`);
    expect(errorsOf(yaml)).toEqual(["routes.yaml:21:16: HTTPRoute/reviews spec.rules[0].timeout: is not a known field"]);
  });

  it("lists the allowed values of an enum and of a tagged union", () => {
    const yaml = route(`  rules:
    - matches: [{ path: { type: Prefix, value: /x } }]
      filters: [{ type: Bogus }]
      backendRefs: [{ name: reviews-v1 }]
`);
    expect(errorsOf(yaml)).toEqual([
      'routes.yaml:20:33: HTTPRoute/reviews spec.rules[0].matches[0].path.type: must be one of "Exact", "PathPrefix", "RegularExpression"',
      'routes.yaml:21:25: HTTPRoute/reviews spec.rules[0].filters[0].type: must be one of "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite", "RequestMirror"',
    ]);
  });

  it("explains durations, paths, header names and regular expressions", () => {
    const yaml = route(`  rules:
    - matches:
        - path: { value: no-slash }
        - path: { type: RegularExpression, value: "([" }
        - headers: [{ name: "bad header", value: x }]
      backendRefs: [{ name: reviews-v1 }]
      timeouts: { request: 5 minutes }
`);
    expect(errorsOf(yaml)).toEqual([
      'routes.yaml:21:26: HTTPRoute/reviews spec.rules[0].matches[0].path.value: must start with "/"',
      "routes.yaml:22:51: HTTPRoute/reviews spec.rules[0].matches[1].path.value: must be a valid RE2 regular expression: missing closing ]: `[`",
      "routes.yaml:23:29: HTTPRoute/reviews spec.rules[0].matches[2].headers[0].name: must be a valid HTTP header name",
      'routes.yaml:25:28: HTTPRoute/reviews spec.rules[0].timeouts.request: must be a Gateway API duration such as "500ms", "10s" or "1m30s"',
    ]);
  });

  it("says which field is missing and which type was expected", () => {
    const yaml = `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { labels: { a: b } }
spec:
  endpoints: [{ url: "ftp://x", weight: "3" }]
`;
    expect(errorsOf(yaml, "backends.yaml")).toEqual([
      "backends.yaml:3:11: document 1 (Backend) metadata.name: is required (expected string)",
      'backends.yaml:5:22: document 1 (Backend) spec.endpoints[0].url: must be an http:// or https:// URL such as "http://127.0.0.1:9101"',
      "backends.yaml:5:41: document 1 (Backend) spec.endpoints[0].weight: must be a number (got string)",
    ]);
  });

  it("checks rules that span fields", () => {
    const yaml = route(`  rules:
    - matches: [{ path: { type: Exact, value: /x } }]
      filters:
        - type: URLRewrite
          urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /y } }
      backendRefs: [{ name: reviews-v1 }]
      timeouts: { request: 1s, backendRequest: 2s }
`);
    expect(errorsOf(yaml)).toEqual([
      "routes.yaml:22:9: HTTPRoute/reviews spec.rules[0].filters: ReplacePrefixMatch requires every match to use a PathPrefix path",
      "routes.yaml:25:48: HTTPRoute/reviews spec.rules[0].timeouts.backendRequest: must not be longer than timeouts.request",
    ]);
  });

  it("rejects unknown kinds and documents that are not mappings", () => {
    const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g }
---
- a list
`;
    expect(errorsOf(yaml, "misc.yaml")).toEqual([
      'misc.yaml:2:7: GRPCRoute/g kind: unknown apiVersion and kind "gateway.networking.k8s.io/v1 GRPCRoute" (expected one of: gateway.networking.k8s.io/v1 Gateway, gateway.networking.k8s.io/v1 HTTPRoute, edgemesh.dev/v1alpha1 Backend, edgemesh.dev/v1alpha1 BackendTrafficPolicy, edgemesh.dev/v1alpha1 PeerAuthentication, edgemesh.dev/v1alpha1 RequestAuthentication, edgemesh.dev/v1alpha1 AuthorizationPolicy, edgemesh.dev/v1alpha1 AdminRoleBinding, edgemesh.dev/v1alpha1 ServiceLevelObjective)',
      "misc.yaml:5:1: document 2: must be a mapping with apiVersion, kind, metadata and spec",
    ]);
  });

  it("reports YAML syntax errors with their position, and refuses duplicate keys", () => {
    expect(errorsOf("a: [1, 2\nb: c\n", "broken.yaml")[0]).toMatch(/^broken\.yaml:2:1: document 1: invalid YAML: /);
    expect(errorsOf("kind: Backend\nkind: Backend\n", "dup.yaml")).toEqual(["dup.yaml:2:1: document 1: invalid YAML: Map keys must be unique"]);
  });
});

describe("set-level errors", () => {
  it("reports references to unknown backends", () => {
    const yaml = route(`  rules:
    - backendRefs: [{ name: reviews-v9 }]
      filters:
        - type: RequestMirror
          requestMirror: { backendRef: { name: shadow } }
`);
    expect(errorsOf(yaml)).toEqual([
      'routes.yaml:20:29: HTTPRoute/reviews spec.rules[0].backendRefs[0].name: refers to unknown Backend "reviews-v9"',
      'routes.yaml:23:48: HTTPRoute/reviews spec.rules[0].filters[0].requestMirror.backendRef.name: refers to unknown Backend "shadow"',
    ]);
  });

  it("reports duplicate names, unknown policy targets and two policies on one target", () => {
    const policy = (name: string, target: string) => `---
apiVersion: edgemesh.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name} }
spec:
  targetRefs: [{ group: edgemesh.dev, kind: Backend, name: ${target} }]
  retry: { numRetries: 1 }
`;
    const yaml = `${BACKENDS}---
apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: ratings }
spec: { worker: { service: RATINGS2 } }
${policy("a", "ratings")}${policy("b", "ratings")}${policy("c", "nothing")}`;
    expect(errorsOf(yaml, "set.yaml")).toEqual([
      "set.yaml:16:19: Backend/ratings metadata.name: is already used by the same kind in set.yaml",
      'set.yaml:30:60: BackendTrafficPolicy/b spec.targetRefs[0].name: Backend "ratings" is already targeted by BackendTrafficPolicy/a',
      'set.yaml:37:60: BackendTrafficPolicy/c spec.targetRefs[0].name: refers to unknown Backend "nothing"',
    ]);
  });

  it("keeps backend-wide settings off HTTPRoute targets", () => {
    const yaml = route(`  rules: [{ backendRefs: [{ name: reviews-v1 }] }]
---
apiVersion: edgemesh.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: p }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: reviews }]
  loadBalancer: { type: Random }
`);
    expect(errorsOf(yaml)).toEqual([
      "routes.yaml:26:17: BackendTrafficPolicy/p spec.loadBalancer: applies to a Backend; it cannot target an HTTPRoute",
    ]);
  });
});

describe("rate-limit rules", () => {
  it("refuses two rules of one list with the same name", () => {
    const yaml = route(`  rules: [{ backendRefs: [{ name: reviews-v1 }] }]
---
apiVersion: edgemesh.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: limits }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: reviews }]
  rateLimit:
    local:
      rules:
        - { limit: { requests: 1, unit: Second } }
        - { name: rule-0, limit: { requests: 2, unit: Second } }
`);
    expect(errorsOf(yaml)).toEqual(['routes.yaml:30:19: BackendTrafficPolicy/limits spec.rateLimit.local.rules[1].name: "rule-0" names another rule of this list too']);
  });
});

describe("npm run validate", () => {
  const run = (...files: string[]) => {
    try {
      return { code: 0, output: execFileSync("npx", ["tsx", "policies/cli/validate.ts", ...files], { encoding: "utf8", stdio: "pipe" }) };
    } catch (error) {
      const failed = error as { status: number; stderr: string };
      return { code: failed.status, output: failed.stderr };
    }
  };

  it("accepts the repo's own policies", () => {
    const { code, output } = run();
    expect(code).toBe(0);
    expect(output).toMatch(/^ok: \d+ documents \(\d+ HTTPRoute, \d+ Backend, \d+ BackendTrafficPolicy, \d+ AuthorizationPolicy, \d+ ServiceLevelObjective\)\n$/);
  });

  it("prints warnings and exits 0 when there are no errors", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-"));
    const file = join(dir, "unattached.yaml");
    writeFileSync(
      file,
      `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge }
spec: { gatewayClassName: edgemesh, listeners: [{ name: web, port: 80, protocol: HTTP }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec: { rules: [{}] }
`,
    );
    const { status, stdout, stderr } = spawnSync("npx", ["tsx", "policies/cli/validate.ts", file], { encoding: "utf8" });
    expect(status).toBe(0);
    expect(stderr.split("\n")).toContainEqual(
      expect.stringMatching(/^warning: \S*unattached\.yaml:9:7: HTTPRoute\/r spec\.parentRefs: is not set, so the route attaches to no Gateway \(the policies declare Gateway\/edge\)$/),
    );
    expect(stdout).toMatch(/^ok: 2 documents/);
  });

  it("prints every error and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "apiVersion: edgemesh.dev/v1alpha1\nkind: Backend\nmetadata: { name: x }\nspec: {}\n");
    const { code, output } = run(file, join(dir, "missing.yaml"));
    expect(code).toBe(1);
    expect(output).toContain("bad.yaml:4:7: Backend/x spec: must set exactly one of worker or endpoints");
    expect(output).toContain("missing.yaml: file: cannot be read (ENOENT)");
    expect(output.trim().split("\n").at(-1)).toBe("2 errors");
  });

  it("reports what RE2 refuses in every RegularExpression field, with RE2's reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "edgemesh-"));
    const file = join(dir, "regex.yaml");
    writeFileSync(file, route(`  rules:
    - matches:
        - path: { type: RegularExpression, value: "/a(?=b)" }
        - headers: [{ name: cookie, type: RegularExpression, value: "(a)\\\\1" }]
        - queryParams: [{ name: v, type: RegularExpression, value: "a{1001}" }]
        - headers: [{ name: x-long, type: RegularExpression, value: "[a-z]{101}" }]
      backendRefs: [{ name: reviews-v1 }]
---
apiVersion: edgemesh.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: limits }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: reviews }]
  rateLimit:
    local:
      rules:
        - clientSelectors: [{ headers: [{ name: x-user, type: RegularExpression, value: "(?<!admin)a++" }] }]
          limit: { requests: 1, unit: Second }
`));
    const { code, output } = run(file);
    expect(code).toBe(1);
    // The CLI prints the path relative to the working directory.
    expect(output.trim().split("\n").map((line) => line.replace(/^.*regex\.yaml/, "regex.yaml"))).toEqual([
      "regex.yaml:21:51: HTTPRoute/reviews spec.rules[0].matches[0].path.value: must be a valid RE2 regular expression: invalid or unsupported Perl syntax: `(?=`",
      "regex.yaml:22:69: HTTPRoute/reviews spec.rules[0].matches[1].headers[0].value: must be a valid RE2 regular expression: invalid escape sequence: `\\1`",
      "regex.yaml:23:68: HTTPRoute/reviews spec.rules[0].matches[2].queryParams[0].value: must be a valid RE2 regular expression: invalid repeat count: `{1001}`",
      "regex.yaml:24:69: HTTPRoute/reviews spec.rules[0].matches[3].headers[0].value: must be a valid RE2 regular expression: compiles to 103 instructions, more than the 100 allowed",
      "regex.yaml:35:89: BackendTrafficPolicy/limits spec.rateLimit.local.rules[0].clientSelectors[0].headers[0].value: must be a valid RE2 regular expression: invalid or unsupported Perl syntax: `(?<!`",
      "5 errors",
    ]);
  });
});

describe("JSON Schema for editors", () => {
  it("is generated from the zod schemas and committed up to date (npm run schema)", () => {
    const committed = JSON.parse(readFileSync(new URL("../../policies/edgemesh.schema.json", import.meta.url), "utf8"));
    const generated = z.toJSONSchema(PolicyDocument, { io: "input", unrepresentable: "any" });
    expect(committed).toEqual({ title: "edgemesh policy document", ...generated });
  });
});

describe("hostile YAML", () => {
  it("reports unresolved aliases and alias bombs as YAML errors instead of crashing", () => {
    expect(errorsOf("a: *nope\n", "alias.yaml")[0]).toMatch(/^alias\.yaml(:\d+:\d+)?: document 1: invalid YAML: /);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join("\n");
    expect(errorsOf(bomb, "bomb.yaml")[0]).toMatch(/^bomb\.yaml(:\d+:\d+)?: document 1: invalid YAML: /);
  });

  it("refuses zero durations where they would break the arithmetic", () => {
    const yaml = `apiVersion: edgemesh.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: p }
spec:
  targetRefs: [{ group: edgemesh.dev, kind: Backend, name: ratings }]
  retryBudget: { ttl: 0s }
  healthCheck: { passive: { interval: 0ms } }
---
${BACKENDS}`;
    expect(errorsOf(yaml, "zero.yaml")).toEqual([
      "zero.yaml:6:23: BackendTrafficPolicy/p spec.retryBudget.ttl: must be at least 1000 ms",
      "zero.yaml:7:39: BackendTrafficPolicy/p spec.healthCheck.passive.interval: must be at least 1000 ms",
    ]);
  });
});
