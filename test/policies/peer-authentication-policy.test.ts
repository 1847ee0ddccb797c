/** PeerAuthentication documents: the schema's refusals and the conflicts between policies of one scope, with their exact text. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

const backend = (name: string, namespace = "default", extra = "") => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  endpoints: [{ url: "http://127.0.0.1:9101" }]${extra}
`;

const policy = (name: string, namespace: string, spec: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
`;

function check(...documents: string[]): { errors: string[]; warnings: string[] } {
  const loaded = loadYaml("peers.yaml", documents.join("---\n"));
  const result = parsePolicySet(loaded.documents);
  return {
    errors: [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError),
    warnings: result.ok ? result.warnings.map(formatError) : [],
  };
}

describe("PeerAuthentication schema", () => {
  it("takes a mode, with or without Backend targets", () => {
    expect(check(backend("details"), policy("a", "default", "{ mode: STRICT }"))).toEqual({ errors: [], warnings: [] });
    expect(
      check(backend("details"), policy("a", "default", "{ mode: DISABLE, targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }] }")),
    ).toEqual({ errors: [], warnings: [] });
    expect(check(policy("mesh", "edgemesh", "{ mode: PERMISSIVE }")).errors).toEqual([]);
  });

  it("refuses an HTTPRoute target, a missing or unknown mode, empty targetRefs and unknown fields", () => {
    expect(check(policy("a", "default", "{ mode: STRICT, targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: r }] }")).errors).toEqual([
      "peers.yaml:4:78: PeerAuthentication/a spec.targetRefs[0].kind: must be Backend: peer authentication applies to every call to a backend, whichever route it came by (an HTTPRoute cannot be a target)",
    ]);
    expect(check(policy("a", "default", "{}")).errors).toEqual(['peers.yaml:4:7: PeerAuthentication/a spec.mode: must be one of "STRICT", "PERMISSIVE", "DISABLE"']);
    expect(check(policy("a", "default", "{ mode: strict }")).errors).toEqual([
      'peers.yaml:4:15: PeerAuthentication/a spec.mode: must be one of "STRICT", "PERMISSIVE", "DISABLE"',
    ]);
    expect(check(policy("a", "default", "{ mode: STRICT, targetRefs: [] }")).errors).toEqual([
      "peers.yaml:4:35: PeerAuthentication/a spec.targetRefs: must be at least 1 items",
    ]);
    expect(check(policy("a", "default", "{ mode: STRICT, mtls: { mode: STRICT } }")).errors).toEqual([
      "peers.yaml:4:29: PeerAuthentication/a spec.mtls: is not a known field",
    ]);
  });

  it("refuses a target that is not a Backend of the policy's namespace", () => {
    expect(check(backend("details", "shop"), policy("a", "default", "{ mode: STRICT, targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }] }")).errors).toEqual([
      'peers.yaml:10:80: PeerAuthentication/a spec.targetRefs[0].name: refers to unknown Backend "details"',
    ]);
  });
});

describe("two PeerAuthentications of one scope", () => {
  it("refuses two namespace-wide ones in one namespace, naming the other, and takes one per namespace", () => {
    expect(check(policy("a", "shop", "{ mode: STRICT }"), policy("b", "shop", "{ mode: DISABLE }")).errors).toEqual([
      'peers.yaml:9:7: PeerAuthentication/shop/b spec.targetRefs: is not set, so the policy is namespace-wide (no targetRefs) in namespace "shop", and so is PeerAuthentication/a (peers.yaml): set targetRefs on one of them, or merge them',
    ]);
    expect(check(policy("a", "shop", "{ mode: STRICT }"), policy("b", "default", "{ mode: DISABLE }")).errors).toEqual([]);
  });

  it("refuses two mesh-wide ones", () => {
    expect(check(policy("a", "edgemesh", "{ mode: STRICT }"), policy("b", "edgemesh", "{ mode: STRICT }")).errors).toEqual([
      'peers.yaml:9:7: PeerAuthentication/edgemesh/b spec.targetRefs: is not set, so the policy is mesh-wide (no targetRefs in namespace "edgemesh"), and so is PeerAuthentication/a (peers.yaml): set targetRefs on one of them, or merge them',
    ]);
  });

  it("refuses two naming the same Backend, and takes one naming it beside a namespace-wide one", () => {
    const target = "{ mode: STRICT, targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }] }";
    expect(check(backend("details"), policy("a", "default", target), policy("b", "default", target)).errors).toEqual([
      'peers.yaml:15:80: PeerAuthentication/b spec.targetRefs[0].name: Backend "details" is already targeted by PeerAuthentication/a (peers.yaml)',
    ]);
    expect(check(backend("details"), policy("a", "default", target), policy("b", "default", "{ mode: DISABLE }")).errors).toEqual([]);
    const twice = "{ mode: STRICT, targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }, { group: edgemesh.dev, kind: Backend, name: details }] }";
    expect(check(backend("details"), policy("a", "default", twice)).errors).toEqual([
      'peers.yaml:10:135: PeerAuthentication/a spec.targetRefs[1].name: Backend "details" is already targeted by an earlier entry of the same targetRefs',
    ]);
  });

  it("warns that a policy naming a Backend with its own spec.peerAuthentication has no effect on it", () => {
    const target = "{ mode: STRICT, targetRefs: [{ group: edgemesh.dev, kind: Backend, name: details }] }";
    expect(check(backend("details", "default", "\n  peerAuthentication: { mode: DISABLE }"), policy("a", "default", target))).toEqual({
      errors: [],
      warnings: ['peers.yaml:11:80: PeerAuthentication/a spec.targetRefs[0].name: has no effect on Backend "details": its own spec.peerAuthentication (mode DISABLE) wins'],
    });
  });
});
