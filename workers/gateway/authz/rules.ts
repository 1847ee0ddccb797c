/**
 * One AuthorizationPolicy's rules compiled to a predicate, with Istio's semantics: a rule matches when
 * its `from`, `to` and `when` all do (a missing one matches); each list matches when any of its
 * entries does; an entry when all of its fields do. No rules matches nothing; `rules: [{}]` everything.
 *
 * Paths and multi-value headers have several readings (readings.ts, each computed once per request);
 * which must match depends on the action (Quantifier), so that neither kind can be bypassed by an
 * unusual spelling or by sending a header twice (Envoy's and Istio's fixed bypasses): for an ALLOW
 * every value must hold (`x: allowed` + `x: evil` is not allowed), for a DENY or AUDIT any value
 * suffices (`x: evil` + `x: fine` is denied). Policy values may not contain a comma (the schema
 * refuses them), so splitting a header never cuts a value the policy could have meant.
 */
import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from "../../../policies/schema/index.ts";
import { parseConditionKey, parseHostPattern } from "../../../policies/schema/index.ts";
import type { IpAddress } from "../../../policies/ip-address.ts";
import { compileIpBlocks } from "../ratelimit/cidr.ts";
import { TOO_MANY } from "./readings.ts";
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
const lower = (value: string) => value.toLowerCase();

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
function field<T>(read: (request: AuthzRequest) => T | undefined, values: ((value: T) => boolean) | undefined, notValues: ((value: T) => boolean) | undefined): Predicate[] {
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

/** CIDR blocks (or single addresses), on the schema's own parser; the client address is parsed once per request. */
function ipBlocks(blocks: readonly string[] | undefined): ((address: IpAddress) => boolean) | undefined {
  return blocks ? compileIpBlocks(blocks) : undefined;
}

function compileSource(source: AuthorizationSource): Predicate {
  return allOf([
    ...field((r) => r.principal, strings(source.principals), strings(source.notPrincipals)),
    ...field((r) => r.namespace, strings(source.namespaces), strings(source.notNamespaces)),
    ...field((r) => r.endUser?.principal, strings(source.requestPrincipals), strings(source.notRequestPrincipals)),
    ...field((r) => r.address, ipBlocks(source.ipBlocks), ipBlocks(source.notIpBlocks)),
  ]);
}

/**
 * Hosts without a port match the hostname; with one, `hostname:port` (request.ts hostPort: no
 * trailing dot, the scheme's default port when the Host has none), as the schema parsed the pattern
 * (one it refuses is an error here, never a host that matches nothing).
 */
function hosts(patterns: readonly string[] | undefined): Predicate | undefined {
  if (!patterns) return undefined;
  const withPort: string[] = [];
  const bare: string[] = [];
  for (const pattern of patterns) {
    const parsed = parseHostPattern(pattern);
    if ("error" in parsed) throw new Error(`host "${pattern}" ${parsed.error}`);
    (parsed.port === undefined ? bare : withPort).push(pattern);
  }
  const portTest = withPort.length ? compileStrings(withPort) : undefined;
  const bareTest = bare.length ? compileStrings(bare) : undefined;
  return (request) => Boolean(bareTest?.(request.hostname) || portTest?.(request.hostPort));
}

/**
 * A path list against the path's readings (readings.ts), so that no reading an origin may act on gets
 * around a policy: "in" (a DENY's paths, an ALLOW's notPaths) holds when any reading matches, the
 * folded readings against the folded patterns; "within" (an ALLOW's paths, a DENY's notPaths) when
 * every reading matches as written. Folded patterns are compiled only when some pattern has upper case.
 */
function pathTests(patterns: readonly string[]) {
  const test = compileStrings(patterns);
  const folded = patterns.some((pattern) => /[A-Z]/.test(pattern)) ? compileStrings(patterns, lower) : undefined;
  return {
    in(request: AuthzRequest): boolean {
      const readings = request.pathReadings;
      if (readings.sent.some(test)) return true;
      return (folded !== undefined || readings.folded !== readings.sent) && readings.folded.some(folded ?? test);
    },
    within: (request: AuthzRequest): boolean => request.pathReadings.sent.every(test),
  };
}

function paths(patterns: readonly string[] | undefined, notPatterns: readonly string[] | undefined, quantifier: Quantifier): Predicate[] {
  const out: Predicate[] = [];
  if (patterns) {
    const tests = pathTests(patterns);
    out.push(quantifier === "every" ? tests.within : tests.in);
  }
  if (notPatterns) {
    const tests = pathTests(notPatterns);
    out.push(quantifier === "every" ? (r) => !tests.in(r) : (r) => !tests.within(r));
  }
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
    ...paths(operation.paths, operation.notPaths, quantifier),
  ]);
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
      return allOf(field((r) => r.address, ipBlocks(condition.values), ipBlocks(condition.notValues)));
    case "claim": {
      // Claims are signed by their issuer: a list claim matches when any of its items does (Istio's "groups").
      const values = strings(condition.values);
      const notValues = strings(condition.notValues);
      return (request) => {
        const items = request.claimValues(condition.key, key.path);
        if (values && !items?.some(values)) return false;
        return !(notValues && items?.some(notValues));
      };
    }
    case "header": {
      const { name } = key;
      const values = strings(condition.values);
      const notValues = strings(condition.notValues);
      const holds = (value: string) => (!values || values(value)) && (!notValues || !notValues(value));
      // A header past MAX_HEADER_VALUES fails closed: an ALLOW's condition does not hold, a DENY's does.
      return quantifier === "every"
        ? (request) => {
            const items = request.headerValues(name);
            return items !== TOO_MANY && items.every(holds);
          }
        : (request) => {
            const items = request.headerValues(name);
            return items === TOO_MANY || ((!values || items.some(values)) && (!notValues || items.some((value) => !notValues(value))));
          };
    }
  }
}
