/**
 * Building blocks shared by every policy kind: Kubernetes-shaped metadata, Gateway API durations,
 * names and header names. Limits follow the Gateway API CRDs so a Gateway API user meets no surprise.
 */
import { z } from "zod";
import { regexError } from "../regex.ts";

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const ObjectName = z
  .string()
  .min(1)
  .max(253)
  .regex(dns1123Subdomain, { error: "must be a lowercase DNS-1123 name (a-z, 0-9, '-', '.')" });

export const Metadata = z.strictObject({
  name: ObjectName,
  namespace: ObjectName.default("default"),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

/** GEP-2257 duration: up to four `<number><unit>` parts, units h, m, s, ms ("1m30s", "250ms"). */
export const Duration = z
  .string()
  .regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, {
    error: 'must be a Gateway API duration such as "500ms", "10s" or "1m30s"',
  });

const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

export function durationToMs(duration: string): number {
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/([0-9]+)(ms|h|m|s)/g)) {
    total += Number(amount) * unitMs[unit!]!;
  }
  return total;
}

/** RFC 7230 token, as the Gateway API's HTTPHeaderName. */
export const HeaderName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, { error: "must be a valid HTTP header name" });

/** A header value as a proxy may send it: no CR, LF or NUL (header injection). */
export const HeaderValue = z
  .string()
  .max(4096)
  .regex(/^[^\r\n\0]*$/, { error: "must not contain CR, LF or NUL" });

/** Dot-separated lowercase DNS labels (RFC 1123), as both hostname kinds below spell them. */
const DNS_NAME = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(new RegExp(`^(\\*\\.)?${DNS_NAME}$`), {
    error: 'must be a lowercase hostname, optionally starting with "*."',
  });

/** Gateway API PreciseHostname: a hostname to send or redirect to, so no wildcard. */
export const PreciseHostname = z
  .string()
  .min(1)
  .max(253)
  .regex(new RegExp(`^${DNS_NAME}$`), {
    error: "must be a lowercase hostname without a wildcard (a name to send to)",
  });

export const Percentage = z.number().min(0).max(100);

/**
 * Why a RegularExpression match value is refused, as a field error, or undefined. RE2 syntax
 * (policies/regex.ts): no backreferences, lookaround or possessive quantifiers, repetitions up to
 * {1000}, programs up to 100 instructions; matching is then linear in the input.
 */
export function regexIssue(source: string): string | undefined {
  if (source === "") return "must not be empty";
  if (source.length > 1024) return "must be at most 1024 characters";
  const reason = regexError(source);
  return reason === undefined ? undefined : `must be a valid RE2 regular expression: ${reason}`;
}

/** A field holding an RE2 regular expression (see regexIssue). */
export const RegexString = z.string().superRefine((source, ctx) => {
  const issue = regexIssue(source);
  if (issue !== undefined) ctx.addIssue({ code: "custom", message: issue });
});

/** A Duration with bounds, for fields where zero (or a huge value) would break the arithmetic. */
export const DurationWithin = (minMs: number, maxMs = Infinity) =>
  Duration.refine((duration) => durationToMs(duration) >= minMs && durationToMs(duration) <= maxMs, {
    error: maxMs === Infinity ? `must be at least ${minMs} ms` : `must be between ${minMs} ms and ${maxMs} ms`,
  });

/** A policy's target: a Backend (every call to it) or an HTTPRoute (the calls it routes), in the policy's namespace. */
export const PolicyTargetRef = z
  .strictObject({
    group: z.enum(["edgemesh.dev", "gateway.networking.k8s.io"]),
    kind: z.enum(["Backend", "HTTPRoute"]),
    name: ObjectName,
  })
  .superRefine((ref, ctx) => {
    const expected = ref.kind === "Backend" ? "edgemesh.dev" : "gateway.networking.k8s.io";
    if (ref.group !== expected) ctx.addIssue({ code: "custom", path: ["group"], message: `must be "${expected}" for kind ${ref.kind}` });
  });

export type PolicyTargetRef = z.infer<typeof PolicyTargetRef>;

/**
 * The namespace whose security policies without targetRefs apply to the whole mesh (Istio's root
 * namespace, istio-system by default); elsewhere such a policy applies to its namespace's Backends.
 */
export const MESH_ROOT_NAMESPACE = "edgemesh";
