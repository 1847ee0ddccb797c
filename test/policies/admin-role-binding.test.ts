/** AdminRoleBinding: the roles and subjects it takes, and the exact error text for what it does not. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

const binding = (spec: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: AdminRoleBinding
metadata: { name: ops }
spec: ${spec}
`;

function errorsOf(yaml: string): string[] {
  const loaded = loadYaml("admins.yaml", yaml);
  const result = parsePolicySet(loaded.documents);
  return [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError);
}

describe("AdminRoleBinding", () => {
  it("takes the three roles, exact principals and segment prefixes", () => {
    for (const role of ["viewer", "operator", "admin"]) {
      expect(errorsOf(binding(`{ role: ${role}, subjects: [{ principal: "spiffe://mesh.test/ns/ops/sa/console" }, { principalPrefix: "spiffe://mesh.test/ns/ops/" }, { principalPrefix: "spiffe://mesh.test/" }] }`))).toEqual([]);
    }
  });

  it("names the field and what it expects", () => {
    expect(errorsOf(binding('{ role: root, subjects: [{ principal: "spiffe://mesh.test/ns/ops/sa/console" }] }'))).toEqual([
      'admins.yaml:4:15: AdminRoleBinding/ops spec.role: must be one of "viewer", "operator", "admin"',
    ]);
    expect(errorsOf(binding('{ role: admin, subjects: [{ principal: "ops-console" }] }'))).toEqual([
      "admins.yaml:4:46: AdminRoleBinding/ops spec.subjects[0].principal: must be a SPIFFE ID spiffe://<trust-domain>/ns/<namespace>/sa/<service>",
    ]);
    const prefixError = (column: number) =>
      `admins.yaml:4:${column}: AdminRoleBinding/ops spec.subjects[0].principalPrefix: must be "spiffe://<trust-domain>/" or "spiffe://<trust-domain>/ns/<namespace>/" (a prefix ends at a path segment)`;
    // Without the closing slash, spiffe://mesh.test/ns/ops would also cover ns/ops-evil.
    expect(errorsOf(binding('{ role: admin, subjects: [{ principalPrefix: "spiffe://mesh.test/ns/ops" }] }'))).toEqual([prefixError(52)]);
    expect(errorsOf(binding('{ role: admin, subjects: [{ principalPrefix: "spiffe://mesh.test/ns/ops/sa/" }] }'))).toEqual([prefixError(52)]);
    expect(errorsOf(binding('{ role: admin, subjects: [{ principalPrefix: "spiffe://Mesh.Test/" }] }'))).toEqual([prefixError(52)]);
    expect(errorsOf(binding('{ role: admin, subjects: [{ principal: "spiffe://mesh.test/ns/a/sa/b", principalPrefix: "spiffe://mesh.test/" }] }'))).toEqual([
      "admins.yaml:4:33: AdminRoleBinding/ops spec.subjects[0]: must have exactly one of principal or principalPrefix",
    ]);
    expect(errorsOf(binding("{ role: admin, subjects: [] }"))).toEqual(["admins.yaml:4:32: AdminRoleBinding/ops spec.subjects: must be at least 1 items"]);
    expect(errorsOf(binding('{ role: admin, subjects: [{ service: "x" }] }'))).toEqual([
      "admins.yaml:4:44: AdminRoleBinding/ops spec.subjects[0].service: is not a known field",
      "admins.yaml:4:33: AdminRoleBinding/ops spec.subjects[0]: must have exactly one of principal or principalPrefix",
    ]);
  });
});
