/**
 * One AuthorizationPolicy's rules compiled to a predicate, with Istio's semantics: a rule matches when
 * its `from`, `to` and `when` all do (a missing one matches); each list matches when any of its
 * entries does; an entry when all of its fields do. No rules matches nothing; `rules: [{}]` everything.
 *
 * Paths (pathReadings) and multi-value headers have several readings; which must match depends on
 * the action (Quantifier).
 *
 * Multi-value headers: workerd's Headers joins a repeated header with ", ", so a header's values are
 * the joined text split at commas (surrounding spaces and tabs trimmed; an absent header is one empty
 * value). Policy values may not contain a comma (the schema refuses them), so splitting never cuts a
 * value the policy could have meant. Which values must satisfy a condition depends on the action, so
 * that neither kind can be bypassed by sending a header twice (Envoy's and Istio's fixed bypasses): for an
 * ALLOW every value must (`x: allowed` + `x: evil` is not allowed), for a DENY or AUDIT any value
 * suffices (`x: evil` + `x: fine` is denied).
 */
import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from "../../../policies/schema/index.ts";
import { parseConditionKey } from "../../../policies/schema/index.ts";
import { compileCidr } from "../ratelimit/cidr.ts";
import type { AuthzRequest } from "./request.ts";
import { compileStrings, type StringTest } from "./strings.ts";

export type Predicate = (request: AuthzRequest) => boolean;

/**
 * How a policy reads attributes with several readings (a header's values, a path's spellings):
 * "every" for an ALLOW (what it allows must hold however the upstream reads the request), "some" for
 * a DENY or AUDIT (one reading that matches suffices).
 */
export type Quantifier = "every" | "some";

const ALWAYS: Predicate = () => true;
const NEVER: Predicate = () => false;

const upper = (value: string) => value.toUpperCase();

export function compileRules(rules: readonly AuthorizationRule[] | undefined, quantifier: Quantifier): Predicate {
  if (!rules?.length) return NEVER;
  const compiled = rules.map((rule) => compileRule(rule, quantifier));
  if (compiled.length === 1) return compiled[0]!;
  return (request) => {
    for (const rule of compiled) if (rule(request)) return true;
    return false;
  };
}

function compileRule(rule: AuthorizationRule, quantifier: Quantifier): Predicate {
  const parts: Predicate[] = [];
  if (rule.from) parts.push(anyOf(rule.from.map(({ source }) => compileSource(source))));
  if (rule.to) parts.push(anyOf(rule.to.map(({ operation }) => compileOperation(operation, quantifier))));
  if (rule.when) parts.push(...rule.when.map((condition) => compileCondition(condition, quantifier)));
  return allOf(parts);
}

function anyOf(predicates: Predicate[]): Predicate {
  if (predicates.length === 1) return predicates[0]!;
  return (request) => {
    for (const predicate of predicates) if (predicate(request)) return true;
    return false;
  };
}

function allOf(predicates: Predicate[]): Predicate {
  if (!predicates.length) return ALWAYS;
  if (predicates.length === 1) return predicates[0]!;
  return (request) => {
    for (const predicate of predicates) if (!predicate(request)) return false;
    return true;
  };
}

/** A single-valued attribute: a positive list needs the value present and matching; a negative one holds unless it matches. */
function field(read: (request: AuthzRequest) => string | undefined, values: StringTest | undefined, notValues: StringTest | undefined): Predicate[] {
  const out: Predicate[] = [];
  if (values) out.push((request) => {
    const value = read(request);
    return value !== undefined && values(value);
  });
  if (notValues) out.push((request) => {
    const value = read(request);
    return value === undefined || !notValues(value);
  });
  return out;
}

const strings = (patterns: readonly string[] | undefined, fold?: (value: string) => string) => (patterns ? compileStrings(patterns, fold) : undefined);

/** CIDR blocks (or single addresses) with the rate limits' parser. */
function ipBlocks(blocks: readonly string[] | undefined): StringTest | undefined {
  if (!blocks) return undefined;
  const tests = blocks.map((block) => compileCidr(block.includes("/") ? block : `${block}/${block.includes(":") ? 128 : 32}`));
  return (ip) => tests.some((contains) => contains(ip));
}

function compileSource(source: AuthorizationSource): Predicate {
  return allOf([
    ...field((r) => r.principal, strings(source.principals), strings(source.notPrincipals)),
    ...field((r) => r.namespace, strings(source.namespaces), strings(source.notNamespaces)),
    ...field((r) => r.endUser?.principal, strings(source.requestPrincipals), strings(source.notRequestPrincipals)),
    ...field((r) => r.ip, ipBlocks(source.ipBlocks), ipBlocks(source.notIpBlocks)),
  ]);
}

/** Hosts without a port match the hostname; with one, the host and port as sent. */
function hosts(patterns: readonly string[] | undefined): Predicate | undefined {
  if (!patterns) return undefined;
  const withPort = patterns.filter((pattern) => pattern.includes(":"));
  const bare = patterns.filter((pattern) => !pattern.includes(":"));
  const portTest = withPort.length ? compileStrings(withPort) : undefined;
  const bareTest = bare.length ? compileStrings(bare) : undefined;
  return (request) => Boolean(bareTest?.(request.hostname) || portTest?.(request.host));
}

/**
 * The readings of a path an origin might make: as sent, with slashes merged, case folded. Many
 * origins merge "//" (Istio's CVE-2021-31920) or ignore case, so a DENY matches any reading and a
 * not-path of an ALLOW must hold for every one; an ALLOW's path matches the path as sent (the one
 * reading that cannot widen what it allows).
 */
export function pathReadings(path: string): string[] {
  const merged = path.includes("//") ? path.replace(/\/{2,}/g, "/") : path;
  const readings = merged === path ? [path] : [path, merged];
  if (/[A-Z]/.test(path)) for (const reading of [...readings]) readings.push(reading.toLowerCase());
  return readings;
}

function paths(values: StringTest | undefined, notValues: StringTest | undefined, quantifier: Quantifier): Predicate[] {
  const out: Predicate[] = [];
  if (values) out.push(quantifier === "every" ? (r) => values(r.path) : (r) => pathReadings(r.path).some(values));
  if (notValues) out.push(quantifier === "every" ? (r) => !pathReadings(r.path).some(notValues) : (r) => pathReadings(r.path).some((path) => !notValues(path)));
  return out;
}

function compileOperation(operation: AuthorizationOperation, quantifier: Quantifier): Predicate {
  const inHosts = hosts(operation.hosts);
  const inNotHosts = hosts(operation.notHosts);
  return allOf([
    ...(inHosts ? [inHosts] : []),
    ...(inNotHosts ? [(request: AuthzRequest) => !inNotHosts(request)] : []),
    // Methods case-insensitively: fetch upper-cases only the standard methods, so "patch" stays "patch".
    ...field((r) => r.method, strings(operation.methods, upper), strings(operation.notMethods, upper)),
    ...paths(strings(operation.paths), strings(operation.notPaths), quantifier),
  ]);
}

const NO_HEADER = [""];

/** A header's values as the upstream may read them (see the file's comment). */
export function headerValues(headers: Headers, name: string): string[] {
  const joined = headers.get(name);
  if (joined === null) return NO_HEADER;
  return joined.includes(",") ? joined.split(",").map((value) => value.trim()) : [joined.trim()];
}

/** A claim's values: a string, a number or boolean as text, or a list of them; undefined when absent or not such. */
function claimValues(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): string[] | undefined {
  let value: unknown = claims;
  for (const part of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  const scalar = (item: unknown) => (typeof item === "string" ? item : typeof item === "number" || typeof item === "boolean" ? String(item) : undefined);
  if (Array.isArray(value)) return value.map(scalar).filter((item): item is string => item !== undefined);
  const one = scalar(value);
  return one === undefined ? undefined : [one];
}

function compileCondition(condition: AuthorizationCondition, quantifier: Quantifier): Predicate {
  const key = parseConditionKey(condition.key)!;
  switch (key.kind) {
    case "source.principal":
      return allOf(field((r) => r.principal, strings(condition.values), strings(condition.notValues)));
    case "source.namespace":
      return allOf(field((r) => r.namespace, strings(condition.values), strings(condition.notValues)));
    case "request.auth.principal":
      return allOf(field((r) => r.endUser?.principal, strings(condition.values), strings(condition.notValues)));
    case "source.ip":
      return allOf(field((r) => r.ip, ipBlocks(condition.values), ipBlocks(condition.notValues)));
    case "claim": {
      // Claims are signed by their issuer: a list claim matches when any of its items does (Istio's "groups").
      const values = strings(condition.values);
      const notValues = strings(condition.notValues);
      return (request) => {
        const items = claimValues(request.endUser?.claims, key.path);
        if (values && !items?.some(values)) return false;
        return !(notValues && items?.some(notValues));
      };
    }
    case "header": {
      const { name } = key;
      const values = strings(condition.values);
      const notValues = strings(condition.notValues);
      const holds = (value: string) => (!values || values(value)) && (!notValues || !notValues(value));
      return quantifier === "every"
        ? (request) => headerValues(request.headers, name).every(holds)
        : (request) => {
            const items = headerValues(request.headers, name);
            return (!values || items.some(values)) && (!notValues || items.some((value) => !notValues(value)));
          };
    }
  }
}
