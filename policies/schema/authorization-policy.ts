/**
 * AuthorizationPolicy (edgemesh.dev/v1alpha1), shaped after Istio's security.istio.io/v1: who may call
 * what. `action` ALLOW / DENY / AUDIT; `rules` of `from` (the caller), `to` (the operation) and `when`
 * (conditions on attributes), each with `not*` forms. Scoped by `targetRefs` (a Backend or an
 * HTTPRoute) or, without them, to the policy's namespace (the whole mesh from MESH_ROOT_NAMESPACE), as
 * workers/gateway/table/attached-policies.ts resolves it. Evaluation: workers/gateway/authz/.
 *
 * Strings match as Istio's do: exact, prefix "abc*", suffix "*abc", or "*" (any non-empty value).
 * Every list is bounded, so no policy can make a request's evaluation expensive.
 */
import { z } from "zod";
import { normalPath } from "../../common/normal-path.ts";
import { formatIPv6, parseIpBlock, parseIPv6 } from "../ip-address.ts";
import { HeaderName, Metadata, PolicyTargetRef } from "./common.ts";

/** The bounds of one policy: lists and strings (evaluation cost is linear in them; exact values are a set lookup). */
export const AUTHZ_LIMITS = { rules: 64, entries: 16, values: 64, valueLength: 256, claimDepth: 8 } as const;

const STAR_ISSUE = 'may hold "*" only as its first or last character (exact, prefix "abc*", suffix "*abc", or "*" for any value)';

const starIssue = (value: string) =>
  value.slice(1, -1).includes("*") || (value.length > 1 && value.startsWith("*") && value.endsWith("*")) ? STAR_ISSUE :
  /[\u0000-\u001f\u007f]/.test(value) ? "must not contain control characters" : undefined;

/** One Istio string match. */
const StringMatch = z
  .string()
  .min(1)
  .max(AUTHZ_LIMITS.valueLength)
  .superRefine((value, ctx) => {
    const issue = starIssue(value);
    if (issue) ctx.addIssue({ code: "custom", message: issue });
  });

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(AUTHZ_LIMITS.values).optional();

const Strings = list(StringMatch);

/**
 * A path match: starts with "/" (or "*" for a suffix match or any path), in the form request paths
 * reach a policy (see normalizedPath), or it could never match: "/café" arrives as "/caf%C3%A9".
 */
const PathMatch = StringMatch.superRefine((value, ctx) => {
  if (starIssue(value) || value === "" || value.length > AUTHZ_LIMITS.valueLength) return; // StringMatch said why
  const issue = !value.startsWith("/") && !value.startsWith("*") ? 'must start with "/" (or "*")' : pathFormIssue(value);
  if (issue) ctx.addIssue({ code: "custom", message: issue });
});

/** Methods are matched case-insensitively, so they are written in upper case. */
const MethodMatch = StringMatch.refine((value) => /^[A-Z*]+$/.test(value), { error: 'must be an upper-case HTTP method such as "GET" (or a "*" match)' });

/** Hosts are matched case-insensitively against the normalized host (see parseHostPattern), so they are written as it. */
const HostMatch = StringMatch.superRefine((value, ctx) => {
  if (starIssue(value) || value === "" || value.length > AUTHZ_LIMITS.valueLength) return; // StringMatch said why
  const parsed = parseHostPattern(value);
  if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
});

/** A CIDR block or one address (a /32 or /128), parsed as the gateway parses it (ratelimit/cidr.ts). */
export const IpBlock = z.string().max(64).superRefine((value, ctx) => {
  const parsed = parseIpBlock(value);
  if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
});

const IpBlocks = list(IpBlock);

const atLeastOne = (fields: readonly string[]) => (value: Record<string, unknown>) => fields.some((field) => value[field] !== undefined);

/** A misspelt field is the one error to report, not also "must set at least one". */
const onlyIfClean = (payload: { issues: readonly unknown[] }) => payload.issues.length === 0;

const SOURCE_FIELDS = ["principals", "notPrincipals", "namespaces", "notNamespaces", "requestPrincipals", "notRequestPrincipals", "ipBlocks", "notIpBlocks"] as const;

export const AuthorizationSource = z
  .strictObject({
    principals: Strings,
    notPrincipals: Strings,
    namespaces: Strings,
    notNamespaces: Strings,
    requestPrincipals: Strings,
    notRequestPrincipals: Strings,
    ipBlocks: IpBlocks,
    notIpBlocks: IpBlocks,
  })
  .refine(atLeastOne(SOURCE_FIELDS), { error: `must set at least one of ${SOURCE_FIELDS.join(", ")}`, when: onlyIfClean });

const OPERATION_FIELDS = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const;

export const AuthorizationOperation = z
  .strictObject({
    hosts: list(HostMatch),
    notHosts: list(HostMatch),
    methods: list(MethodMatch),
    notMethods: list(MethodMatch),
    paths: list(PathMatch),
    notPaths: list(PathMatch),
  })
  .refine(atLeastOne(OPERATION_FIELDS), { error: `must set at least one of ${OPERATION_FIELDS.join(", ")}`, when: onlyIfClean });

/** The `when` keys edgemesh knows, as Istio spells them. */
export const CONDITION_KEYS = [
  "request.headers[<name>]",
  "request.auth.claims[<name>]",
  "request.auth.principal",
  "source.principal",
  "source.namespace",
  "source.ip",
] as const;

export type ConditionKey =
  | { kind: "header"; name: string }
  | { kind: "claim"; path: string[] }
  | { kind: "request.auth.principal" | "source.principal" | "source.namespace" | "source.ip" };

const CLAIM_PART = /\[([^\[\]]{1,256})\]/y;

/** A `when` key's meaning, or undefined when it is not one edgemesh knows. */
export function parseConditionKey(key: string): ConditionKey | undefined {
  if (key === "request.auth.principal" || key === "source.principal" || key === "source.namespace" || key === "source.ip") return { kind: key };
  const header = /^request\.headers\[([^\[\]]+)\]$/.exec(key);
  if (header) return HeaderName.safeParse(header[1]).success ? { kind: "header", name: header[1]!.toLowerCase() } : undefined;
  const prefix = "request.auth.claims";
  if (!key.startsWith(prefix) || key.length === prefix.length) return undefined;
  const path: string[] = [];
  CLAIM_PART.lastIndex = prefix.length;
  while (CLAIM_PART.lastIndex < key.length) {
    const part = CLAIM_PART.exec(key);
    if (!part) return undefined;
    path.push(part[1]!);
  }
  return path.length <= AUTHZ_LIMITS.claimDepth ? { kind: "claim", path } : undefined;
}

export const AuthorizationCondition = z
  .strictObject({
    key: z.string().min(1).max(1024),
    values: list(z.string().max(AUTHZ_LIMITS.valueLength)),
    notValues: list(z.string().max(AUTHZ_LIMITS.valueLength)),
  })
  .superRefine((condition, ctx) => {
    const key = parseConditionKey(condition.key);
    if (!key) {
      const depth = condition.key.startsWith("request.auth.claims[") ? ` (claims at most ${AUTHZ_LIMITS.claimDepth} deep)` : "";
      ctx.addIssue({ code: "custom", path: ["key"], message: `must be one of ${CONDITION_KEYS.join(", ")}${depth}` });
      return;
    }
    if (!condition.values && !condition.notValues) ctx.addIssue({ code: "custom", message: "must set values, notValues or both" });
    for (const field of ["values", "notValues"] as const) {
      condition[field]?.forEach((value, i) => {
        const path = [field, i];
        if (key.kind === "source.ip") {
          const ip = IpBlock.safeParse(value);
          if (!ip.success) ctx.addIssue({ code: "custom", path, message: ip.error.issues[0]!.message });
          return;
        }
        const issue = value === "" ? "must not be empty" : starIssue(value);
        if (issue) return ctx.addIssue({ code: "custom", path, message: issue });
        // A header's values are split at commas (duplicate headers arrive joined by ", "): a value
        // holding one could never match a single value.
        if (key.kind === "header" && value.includes(",")) ctx.addIssue({ code: "custom", path, message: "must not contain \",\" (a header is matched value by value, split at commas)" });
      });
    }
  });

export const AuthorizationRule = z.strictObject({
  from: z.array(z.strictObject({ source: AuthorizationSource })).min(1).max(AUTHZ_LIMITS.entries).optional(),
  to: z.array(z.strictObject({ operation: AuthorizationOperation })).min(1).max(AUTHZ_LIMITS.entries).optional(),
  when: z.array(AuthorizationCondition).min(1).max(AUTHZ_LIMITS.entries).optional(),
});

export const AuthorizationAction = z.enum(["ALLOW", "DENY", "AUDIT"]);

export const AuthorizationPolicy = z.strictObject({
  apiVersion: z.literal("edgemesh.dev/v1alpha1"),
  kind: z.literal("AuthorizationPolicy"),
  metadata: Metadata,
  spec: z.strictObject({
    /** Backends or HTTPRoutes of the policy's namespace; none: every Backend of the namespace (the mesh, from `edgemesh`). */
    targetRefs: z.array(PolicyTargetRef).min(1).max(AUTHZ_LIMITS.entries).optional(),
    action: AuthorizationAction.default("ALLOW"),
    /** Evaluated and logged ("would deny"), never enforced. */
    dryRun: z.boolean().optional(),
    /** None: matches nothing (an ALLOW without rules allows nothing: an explicit default deny). `[{}]` matches everything. */
    rules: z.array(AuthorizationRule).max(AUTHZ_LIMITS.rules).optional(),
  }),
});

export type AuthorizationPolicy = z.infer<typeof AuthorizationPolicy>;
export type AuthorizationRule = z.infer<typeof AuthorizationRule>;
export type AuthorizationSource = z.infer<typeof AuthorizationSource>;
export type AuthorizationOperation = z.infer<typeof AuthorizationOperation>;
export type AuthorizationCondition = z.infer<typeof AuthorizationCondition>;
export type AuthorizationAction = z.infer<typeof AuthorizationAction>;

const HOST_FORM = 'must be a host such as "api.example.com", "*.example.com", "10.0.0.1" or "[fd00::1]", optionally with ":port"';

/**
 * A host pattern: a name or IPv4 address ("*" first or last), or a bracketed IPv6 address, optionally
 * with ":port"; written as requests carry the host (lower case, punycode, RFC 5952 IPv6, no trailing
 * dot), or it could never match. The evaluator splits patterns with it (authz/rules.ts).
 */
export function parseHostPattern(pattern: string): { name: string; port?: string } | { error: string } {
  let name = pattern;
  let port: string | undefined;
  if (pattern.startsWith("[")) {
    const close = pattern.indexOf("]");
    const rest = close < 0 ? "" : pattern.slice(close + 1);
    const value = close < 0 ? undefined : parseIPv6(pattern.slice(1, close));
    if (value === undefined || (rest && !rest.startsWith(":"))) return { error: HOST_FORM };
    [name, port] = [pattern.slice(0, close + 1), rest ? rest.slice(1) : undefined];
    if (name !== `[${formatIPv6(value)}]`) return { error: `is not written as requests carry it: write [${formatIPv6(value)}]${rest}` };
  } else {
    const colon = pattern.lastIndexOf(":");
    if (colon >= 0) [name, port] = [pattern.slice(0, colon), pattern.slice(colon + 1)];
    if (name.includes(":")) return { error: 'has an IPv6 address without brackets: write it as "[fd00::1]" or "[fd00::1]:8080"' };
    const issue = hostNameIssue(name, colon >= 0 ? pattern.slice(colon) : "");
    if (issue) return { error: issue };
  }
  if (port !== undefined && (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535)) {
    return { error: "has a port that is not a number from 1 to 65535 (leave the port out to match any port)" };
  }
  return port === undefined ? { name } : { name, port };
}

/** Why a host name (maybe "*" first or last) is not as the URL parser leaves a request's host. */
function hostNameIssue(name: string, port: string): string | undefined {
  if (name === "*") return undefined;
  if (name.endsWith(".") && name.length > 1) return `must not end with "." (hosts are matched without the trailing dot): write ${name.slice(0, -1)}${port}`;
  if (name === "" || /[\s/\\?#@%]/.test(name)) return HOST_FORM;
  const star = name.startsWith("*") ? "first" : name.endsWith("*") ? "last" : undefined;
  const sample = star === "first" ? `x${name.slice(1)}` : star === "last" ? `${name.slice(0, -1)}x` : name;
  let parsed: string;
  try {
    parsed = new URL(`http://${sample}/`).hostname;
  } catch {
    return HOST_FORM;
  }
  if (parsed === sample) return undefined;
  const written = star === "first" ? parsed.startsWith("x") && `*${parsed.slice(1)}` : star === "last" ? parsed.endsWith("x") && `${parsed.slice(0, -1)}*` : parsed;
  return written ? `is not written as requests carry it (lower case, international names in punycode): write ${written}${port}` : HOST_FORM;
}

const NEVER_MATCHES = "can never match: request paths reach policies normalized (percent-encoded UTF-8, escapes in upper case, unreserved characters decoded, dot segments resolved)";

/** Why a path pattern could match no normalized path, with the pattern that means what it says when there is one. */
function pathFormIssue(pattern: string): string | undefined {
  if (pattern === "*") return undefined;
  // A prefix or suffix is normalized within a path (an "x" stands for the rest), so "/a/.*" stays.
  const [before, fragment, after] = pattern.endsWith("*") ? ["", pattern.slice(0, -1), "x"] : pattern.startsWith("*") ? ["/x", pattern.slice(1), ""] : ["", pattern, ""];
  const sample = before + fragment + after;
  const normalized = normalizedPath(sample);
  if (normalized === sample) return undefined;
  if (normalized === undefined) return `can never match: a request path with an encoded "/" or "\\" (%2F, %5C) is refused`;
  if (!before && !after) return `${NEVER_MATCHES}: write "${normalized}"`;
  // Within a prefix or suffix only a change of spelling is what the pattern meant: a resolved dot
  // segment could turn "/a/../*" into "/*", far more than was written.
  const separators = (path: string) => path.split(/[/\\]/).length;
  const within = normalized.slice(before.length, normalized.length - after.length);
  const respelt = normalized.startsWith(before) && normalized.endsWith(after) && within && separators(normalized) === separators(sample);
  return respelt ? `${NEVER_MATCHES}: write "${after ? `${within}*` : `*${within}`}"` : NEVER_MATCHES;
}

/**
 * A path as the gateway hands it to policies: the URL parser's (dot segments resolved, "\" as "/",
 * non-ASCII characters, spaces, quotes, "<", ">", "{", "}" percent-encoded), then common/normal-path.ts's
 * (repeated slashes merged, unreserved escapes decoded, the others in upper case; undefined for an
 * encoded separator, which the gateway refuses). A test keeps this in step with the gateway's stage
 * (test/policies/authorization-policy.test.ts).
 */
export function normalizedPath(path: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(`http://h${path.replace(/[?#]/g, encodeURIComponent)}`).pathname;
  } catch {
    return undefined;
  }
  return normalPath(pathname);
}
