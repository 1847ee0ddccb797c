/**
 * Documents validated once (at bundle time, at apply) and compiled without validating again
 * (policies/normalized.ts, workers/gateway/control-plane/seed.ts).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultPolicyFiles, loadPolicyFiles } from "../../policies/cli/files.ts";
import { normalizedValues, SCHEMA_FINGERPRINT, trustedValues, valuesOf } from "../../policies/normalized.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { SnapshotDocuments } from "../../durable-objects/snapshot-documents.ts";
import { compileNormalized } from "../../workers/gateway/control-plane/seed.ts";
import { createIsolateState } from "../../workers/gateway/isolate-state.ts";

const { documents, result } = loadPolicyFiles(defaultPolicyFiles());
if (!result.ok) throw new Error("policies/*.yaml must be valid");
const values = normalizedValues(result.set, documents);
const sources = documents.map((document) => document.source);

describe("normalized documents", () => {
  it("are stamped with the fingerprint of the committed JSON Schema (npm run schema writes both)", () => {
    const schema = readFileSync(new URL("../../policies/edgemesh.schema.json", import.meta.url));
    expect(SCHEMA_FINGERPRINT).toBe(createHash("sha256").update(schema).digest("hex").slice(0, 16));
  });

  it("are the checked values in document order, defaults applied, and validate to themselves", () => {
    expect(values.map((value) => (value as { kind: string }).kind)).toEqual(documents.map((document) => (document.value as { kind: string }).kind));
    const reparsed = values.map((value, index) => ({ source: "again", index, value }));
    const again = parsePolicySet(reparsed);
    expect(again.ok).toBe(true);
    expect(again.ok && normalizedValues(again.set, reparsed)).toEqual(values);
    // A default the files leave out: every object has its namespace.
    for (const value of values) expect((value as { metadata: { namespace?: string } }).metadata.namespace).toBe("default");
  });

  it("sort by kind into what validation gives", () => {
    expect(trustedValues(values)).toEqual(valuesOf(result.set));
  });

  it("compile trusted with this build's fingerprint, and validated with any other", () => {
    const broken = values.map((value) => structuredClone(value) as { kind: string; spec: { rules?: { backendRefs?: { weight: unknown }[] }[] } });
    const route = broken.find((value) => value.kind === "HTTPRoute" && value.spec.rules?.[0]?.backendRefs?.length)!;
    route.spec.rules![0]!.backendRefs![0]!.weight = -1;
    // Trusted: taken as it is (the weight is only read when a request reaches the rule).
    expect(() => compileNormalized(broken, SCHEMA_FINGERPRINT, sources, 2, {}, createIsolateState())).not.toThrow();
    // Stamped by other schemas, or not at all: validated, and refused.
    expect(() => compileNormalized(broken, "another-deploy", sources, 2, {}, createIsolateState())).toThrow(/invalid policies:\n.*weight: must be at least 0/);
    expect(() => compileNormalized(broken, "", sources, 2, {}, createIsolateState())).toThrow(/invalid policies/);
    expect(compileNormalized(values, "another-deploy", sources, 2, {}, createIsolateState()).version).toBe(2);
  });
});

describe("the KV snapshot's documents (ConfigStore)", () => {
  const stored = JSON.stringify(documents.map((document) => document.value));

  it("are the version's documents normalized and stamped, computed once per version", () => {
    const snapshot = new SnapshotDocuments();
    const first = snapshot.of(3, stored, sources);
    expect(first).toEqual({ documents: values, schema: SCHEMA_FINGERPRINT });
    expect(snapshot.of(3, stored, sources)).toBe(first);
    expect(snapshot.of(4, stored, sources)).not.toBe(first);
  });

  it("are published as stored and unstamped when the version no longer validates", () => {
    const invalid = JSON.stringify([{ apiVersion: "edgemesh.dev/v1alpha1", kind: "Backend", metadata: { name: "x" }, spec: { endpoints: [{ url: "http://127.0.0.1:9", weight: 0 }] } }]);
    const { documents: published, schema } = new SnapshotDocuments().of(1, invalid, ["old.yaml"]);
    expect(schema).toBe("");
    expect(published).toEqual(JSON.parse(invalid));
    expect(() => compileNormalized(published, schema, ["old.yaml"], 1, {}, createIsolateState())).toThrow("invalid policies:\nold.yaml: Backend/x spec.endpoints[0].weight: must be at least 1");
  });
});

