/**
 * Hostname selection. A request's candidate rules are those of routes whose hostnames match it, most
 * specific first as the Gateway API orders them: the exact hostname, then matching wildcards (longest
 * first), then routes without hostnames. Precedence holds within each of these groups: a rule of the
 * exact hostname wins over every wildcard rule, whatever their paths. Each group is indexed by path
 * (path-index.ts); a lookup is one map read for the host (one per label of the host for a wildcard)
 * and one index lookup per group in the host's chain, none of them a scan of the routes.
 */
import type { CompiledMatch, RequestView } from "./match.ts";
import { buildPathIndex, type PathIndex } from "./path-index.ts";
import type { CompiledRule } from "./rule.ts";

export interface RouteEntry {
  readonly match: CompiledMatch;
  readonly rule: CompiledRule;
  /** Route name, rule index and match index: the Gateway API's tie-breakers after precedence. */
  readonly order: readonly [string, number, number];
}

export interface VirtualHosts {
  /** The entry a request to `host` (lowercase, no port: hostnameOf) goes to, if any. */
  match(host: string, request: RequestView): RouteEntry | undefined;
}

const firstMatch = (chain: readonly PathIndex[], request: RequestView) => {
  for (const index of chain) {
    const entry = index.match(request);
    if (entry) return entry;
  }
  return undefined;
};

export function buildVirtualHosts(entriesByHostname: ReadonlyMap<string | undefined, RouteEntry[]>): VirtualHosts {
  const indexes = new Map<string | undefined, PathIndex>();
  for (const [hostname, entries] of entriesByHostname) indexes.set(hostname, buildPathIndex(entries));
  const anyHost = indexes.get(undefined);
  const anyChain = anyHost ? [anyHost] : [];
  // "*.example.com" is stored as ".example.com": a host matches when it ends with it.
  const wildcardSuffixes = [...entriesByHostname.keys()]
    .filter((hostname): hostname is string => hostname?.startsWith("*.") === true)
    .map((hostname) => hostname.slice(1))
    .sort((a, b) => b.length - a.length);
  const chainFor = (exact: string | undefined, suffixes: string[]) => {
    const chain: PathIndex[] = exact === undefined ? [] : [indexes.get(exact)!];
    for (const suffix of suffixes) chain.push(indexes.get(`*${suffix}`)!);
    return chain.concat(anyChain);
  };

  const exactHosts = new Map<string, PathIndex[]>();
  for (const hostname of entriesByHostname.keys()) {
    if (hostname === undefined || hostname.startsWith("*.")) continue;
    const wildcards = wildcardSuffixes.length ? wildcardSuffixes.filter((suffix) => hostname.endsWith(suffix)) : wildcardSuffixes;
    exactHosts.set(hostname, chainFor(hostname, wildcards));
  }
  // A wildcard's chain: itself and every shorter wildcard it ends with, longest first.
  const wildcardHosts = new Map<string, PathIndex[]>();
  for (const suffix of wildcardSuffixes) wildcardHosts.set(suffix, chainFor(undefined, wildcardSuffixes.filter((other) => suffix.endsWith(other))));

  return {
    match(host, request) {
      const exact = exactHosts.get(host);
      if (exact) return firstMatch(exact, request);
      if (wildcardHosts.size) {
        // The longest matching wildcard starts at the host's first dot that begins one.
        for (let dot = host.indexOf("."); dot >= 0; dot = host.indexOf(".", dot + 1)) {
          const chain = wildcardHosts.get(host.slice(dot));
          if (chain) return firstMatch(chain, request);
        }
      }
      return firstMatch(anyChain, request);
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
