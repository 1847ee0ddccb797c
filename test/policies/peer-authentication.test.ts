/** Backend.spec.peerAuthentication: the modes it takes and the exact error text for what it does not. */
import { describe, expect, it } from "vitest";
import { errorsOf as errorsIn } from "../support/policy-text.ts";

const backendWith = (peerAuthentication: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: details }
spec:
  endpoints: [{ url: "http://127.0.0.1:9101" }]
  peerAuthentication: ${peerAuthentication}
`;

const errorsOf = (yaml: string) => errorsIn(yaml, "backends.yaml");

describe("peerAuthentication", () => {
  it("takes STRICT, PERMISSIVE and DISABLE", () => {
    for (const mode of ["STRICT", "PERMISSIVE", "DISABLE"]) expect(errorsOf(backendWith(`{ mode: ${mode} }`))).toEqual([]);
  });

  it("names the field and what it expects", () => {
    expect(errorsOf(backendWith("{ mode: strict }"))).toEqual([
      'backends.yaml:6:31: Backend/details spec.peerAuthentication.mode: must be one of "STRICT", "PERMISSIVE", "DISABLE"',
    ]);
    expect(errorsOf(backendWith("{}"))).toEqual([
      'backends.yaml:6:23: Backend/details spec.peerAuthentication.mode: must be one of "STRICT", "PERMISSIVE", "DISABLE"',
    ]);
    expect(errorsOf(backendWith("{ mode: STRICT, mtls: { mode: STRICT } }"))).toEqual([
      "backends.yaml:6:45: Backend/details spec.peerAuthentication.mtls: is not a known field",
    ]);
  });
});

describe("the mesh's own namespace", () => {
  it("takes no Backend: its identity could be the gateway's, the audience of tokens sent to the mesh", () => {
    const inMeshNamespace = (name: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: edgemesh }
spec:
  endpoints: [{ url: "http://127.0.0.1:9101" }]
`;
    for (const name of ["gateway", "details"]) {
      expect(errorsOf(inMeshNamespace(name))).toEqual([
        `backends.yaml:3:39: Backend/edgemesh/${name} metadata.namespace: "edgemesh" is the mesh's own namespace (its gateway's identity is there): put the Backend in another namespace`,
      ]);
    }
  });
});
