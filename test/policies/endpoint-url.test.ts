/** Endpoint URLs in policy files: the address checks of policies/endpoint-url.ts, and spec.registration, with the text users see. */
import { describe, expect, it } from "vitest";
import { formatError } from "../../policies/errors.ts";
import { checkEndpointUrl } from "../../policies/endpoint-url.ts";
import { parsePolicySet } from "../../policies/policy-set.ts";
import { loadYaml } from "../../policies/yaml.ts";

function errorsOf(yaml: string): string[] {
  const loaded = loadYaml("backends.yaml", yaml);
  const result = parsePolicySet(loaded.documents);
  return [...loaded.errors, ...(result.ok ? [] : result.errors)].map(formatError);
}

const backendWith = (spec: string) => `apiVersion: edgemesh.dev/v1alpha1
kind: Backend
metadata: { name: b }
spec:
${spec}`;

describe("static endpoints get the same checks as registrations", () => {
  it("refuses metadata, link-local and unspecified hosts, credentials and paths, each with its reason", () => {
    const yaml = backendWith(`  endpoints:
    - url: http://2852039166
    - url: "http://[fe80::1]:80"
    - url: http://0.0.0.0:9101
    - url: http://user:secret@127.0.0.1:9101
    - url: http://127.0.0.1:9101/api
    - url: http://127.0.0.1:9101
`);
    expect(errorsOf(yaml)).toEqual([
      'backends.yaml:6:12: Backend/b spec.endpoints[0].url: must not point at a cloud metadata service (169.254.169.254); written "2852039166"',
      "backends.yaml:7:12: Backend/b spec.endpoints[1].url: must not point at a link-local address (fe80::1 in fe80::/10)",
      "backends.yaml:8:12: Backend/b spec.endpoints[2].url: must not point at an unspecified address (0.0.0.0 in 0.0.0.0/8)",
      'backends.yaml:9:12: Backend/b spec.endpoints[3].url: must not contain a user name or password ("user:pass@"): credentials do not belong in an endpoint URL',
      'backends.yaml:10:12: Backend/b spec.endpoints[4].url: must not have a path ("/api"): an endpoint is an origin such as "http://127.0.0.1:9101"',
    ]);
  });

  it("accepts loopback, private and public hosts, and keeps the origin", () => {
    for (const [url, origin] of [
      ["http://127.0.0.1:9101/", "http://127.0.0.1:9101"],
      ["http://[::1]:9101", "http://[::1]:9101"],
      ["https://api.example.com", "https://api.example.com"],
      ["http://10.0.0.1:80", "http://10.0.0.1"],
      ["http://0x7f.1:9101", "http://127.0.0.1:9101"],
    ]) {
      expect(checkEndpointUrl(url!)).toMatchObject({ ok: true, origin });
    }
  });

  it("sees through IPv6 forms that carry an IPv4 address", () => {
    for (const host of ["[::ffff:a9fe:a9fe]", "[::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1:a9fe:a9:fe00::]", "[2002:a9fe:a9fe::1]", "[::ffff:0:a9fe:a9fe]"]) {
      const checked = checkEndpointUrl(`http://${host}/`);
      expect(checked.ok ? "ok" : checked.message).toMatch(/^must not point at a cloud metadata service \(169\.254\.169\.254, inside the /);
    }
    expect(checkEndpointUrl("http://[::ffff:10.0.0.1]/").ok).toBe(true);
  });
});

describe("spec.registration", () => {
  it("takes hosts, wildcard names and CIDR blocks", () => {
    const yaml = backendWith(`  endpoints: []
  registration:
    allowedHosts: [10.0.0.7, api.internal, "*.svc.internal"]
    allowedCIDRs: [10.0.0.0/8, "fd00::/8"]
`);
    expect(errorsOf(yaml)).toEqual([]);
  });

  it("explains entries that cannot work", () => {
    const yaml = backendWith(`  endpoints: []
  registration:
    allowedHosts: ["::1", "127.1", 169.254.169.254, metadata.google.internal]
    allowedCIDRs: [10.0.0.1/8, 10.0.0.0, "fd00::/129"]
`);
    expect(errorsOf(yaml)).toEqual([
      'backends.yaml:7:20: Backend/b spec.registration.allowedHosts[0]: must be a lowercase hostname (optionally starting with "*.") or an IPv4 address; put IPv6 addresses in allowedCIDRs',
      'backends.yaml:7:27: Backend/b spec.registration.allowedHosts[1]: must be an IPv4 address in dotted decimal, such as "10.0.0.1"',
      "backends.yaml:7:36: Backend/b spec.registration.allowedHosts[2]: must not be a cloud metadata service (169.254.169.254): no endpoint may point at it",
      "backends.yaml:7:53: Backend/b spec.registration.allowedHosts[3]: must not be a cloud metadata service (metadata.google.internal): no endpoint may point at it",
      "backends.yaml:8:20: Backend/b spec.registration.allowedCIDRs[0]: has address bits set past its /8 prefix: write 10.0.0.0/8",
      'backends.yaml:8:32: Backend/b spec.registration.allowedCIDRs[1]: must be a CIDR block such as "10.0.0.0/8" or "fd00::/8"',
      'backends.yaml:8:42: Backend/b spec.registration.allowedCIDRs[2]: must be a CIDR block such as "10.0.0.0/8" or "fd00::/8"',
    ]);
  });

  it("belongs to HTTP backends only", () => {
    expect(errorsOf(backendWith("  worker: { service: RATINGS }\n  registration: { allowedHosts: [a.test] }\n"))).toEqual([
      "backends.yaml:6:17: Backend/b spec.registration: applies only to a Backend with endpoints: a Worker backend takes no registrations",
    ]);
  });
});
