/** Policy files as text, for tests that pin what validation says about them. */
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

export const BACKENDS = `
apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: reviews-v1 }
spec:
  endpoints: [{ url: "http://127.0.0.1:9111" }]
---
apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: ratings }
spec:
  worker: { service: RATINGS }
`;

/** Every error for a YAML text, formatted as the CLI prints it. */
export function errorsOf(yaml: string, file = "routes.yaml"): string[] {
  const loaded = loadYaml(file, yaml);
  const result = parsePolicySet(loaded.documents);
  return [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError);
}

/** The two Backends, then an HTTPRoute "reviews" with this spec (indented two spaces). */
export const route = (spec: string) => `${BACKENDS}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
${spec}`;
