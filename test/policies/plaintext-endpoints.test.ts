/** Plain http:// endpoints outside loopback: warned (exact text) unless the Backend opts out with spec.tls.mode DISABLE. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

const backend = (urls: string[], extra = "") => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: details }
spec:
  endpoints: [${urls.map((url) => `{ url: "${url}" }`).join(", ")}]${extra}
`;

function check(yaml: string): { errors: string[]; warnings: string[] } {
  const loaded = loadYaml("backends.yaml", yaml);
  const result = parsePolicySet(loaded.documents);
  return { errors: [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError), warnings: result.ok ? result.warnings.map(formatError) : [] };
}

const ADVICE = "use https:// or set spec.tls: { mode: DISABLE } on the Backend to opt out explicitly";

describe("plaintext endpoints", () => {
  it("warns about plain http:// to a host outside loopback, naming the endpoint", () => {
    expect(check(backend(["http://10.0.0.7:8080", "http://details.internal"]))).toEqual({
      errors: [],
      warnings: [
        `backends.yaml:5:22: Backend/details spec.endpoints[0].url: traffic to http://10.0.0.7:8080 is not encrypted in transit; ${ADVICE}`,
        `backends.yaml:5:55: Backend/details spec.endpoints[1].url: traffic to http://details.internal is not encrypted in transit; ${ADVICE}`,
      ],
    });
  });

  it("says nothing of https://, nor of loopback in any form", () => {
    const quiet = ["https://10.0.0.7", "http://127.0.0.1:9101", "http://127.9.8.7", "http://[::1]:9101", "http://[::ffff:127.0.0.1]", "http://localhost:9101", "http://api.localhost"];
    expect(check(backend(quiet))).toEqual({ errors: [], warnings: [] });
  });

  it("says nothing when the Backend opts out with spec.tls: { mode: DISABLE }", () => {
    expect(check(backend(["http://10.0.0.7:8080"], "\n  tls: { mode: DISABLE }"))).toEqual({ errors: [], warnings: [] });
  });

  it("refuses other tls modes, and tls on a Worker backend", () => {
    expect(check(backend(["http://10.0.0.7"], "\n  tls: { mode: disable }")).errors).toEqual(['backends.yaml:6:16: Backend/details spec.tls.mode: must be "DISABLE"']);
    const worker = "apiVersion: edgemesh.dev/v1alpha1\nkind: Backend\nmetadata: { name: w }\nspec:\n  worker: { service: W }\n  tls: { mode: DISABLE }\n";
    expect(check(worker).errors).toEqual([
      "backends.yaml:6:8: Backend/w spec.tls: applies only to a Backend with endpoints: a Worker backend is reached over a service binding, not the network",
    ]);
  });
});
