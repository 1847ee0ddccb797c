/**
 * Hostname selection. A request's candidate rules are those of routes whose hostnames match it, most
 * specific first as the Gateway API orders them: the exact hostname, then matching wildcards (longest
 * first), then routes without hostnames. Every list is built at compile time; a lookup is two map reads
 * at most plus a scan of the (few) wildcard suffixes.
 */
import { comparePrecedence, type CompiledMatch } from "./match.ts";
import type { CompiledRule } from "./rule.ts";

export interface RouteEntry {
  readonly match: CompiledMatch;
  readonly rule: CompiledRule;
  /** Route name, rule index and match index: the Gateway API's tie-breakers after precedence. */
  readonly order: readonly [string, number, number];
}

export interface VirtualHosts {
  lookup(host: string): readonly RouteEntry[];
}

const byPrecedence = (a: RouteEntry, b: RouteEntry) =>
  comparePrecedence(a.match.precedence, b.match.precedence) ||
  (a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : 0) ||
  a.order[1] - b.order[1] ||
  a.order[2] - b.order[2];

export function buildVirtualHosts(entriesByHostname: ReadonlyMap<string | undefined, RouteEntry[]>): VirtualHosts {
  const sorted = (entries: RouteEntry[] | undefined) => [...(entries ?? [])].sort(byPrecedence);
  const anyHost = sorted(entriesByHostname.get(undefined));
  // "*.example.com" is stored as ".example.com": a host matches when it ends with it.
  const wildcardSuffixes = [...entriesByHostname.keys()]
    .filter((hostname): hostname is string => hostname?.startsWith("*.") === true)
    .map((hostname) => hostname.slice(1))
    .sort((a, b) => b.length - a.length);
  const matchingWildcards = (host: string) => wildcardSuffixes.filter((suffix) => host.endsWith(suffix));
  const listFor = (exact: string | undefined, suffixes: string[]) => [
    ...sorted(exact === undefined ? undefined : entriesByHostname.get(exact)),
    ...suffixes.flatMap((suffix) => sorted(entriesByHostname.get(`*${suffix}`))),
    ...anyHost,
  ];

  const exactHosts = new Map<string, RouteEntry[]>();
  for (const hostname of entriesByHostname.keys()) {
    if (hostname !== undefined && !hostname.startsWith("*.")) exactHosts.set(hostname, listFor(hostname, matchingWildcards(hostname)));
  }
  const wildcardHosts = wildcardSuffixes.map((suffix) => ({
    suffix,
    entries: listFor(undefined, wildcardSuffixes.filter((other) => suffix.endsWith(other))),
  }));

  return {
    lookup(host) {
      const exact = exactHosts.get(host);
      if (exact) return exact;
      for (const wildcard of wildcardHosts) if (host.endsWith(wildcard.suffix)) return wildcard.entries;
      return anyHost;
    },
  };
}

/** Host header to hostname: lowercase, no port, no trailing dot ("Reviews.Mesh.:8080" → "reviews.mesh"). */
export function hostnameOf(hostHeader: string): string {
  let host = hostHeader.toLowerCase();
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
