/**
 * Hostname selection. A request's candidate rules are those of routes whose hostnames match it, most
 * specific first as the Gateway API orders them: the exact hostname, then matching wildcards (longest
 * first), then routes without hostnames. Precedence holds within each of these groups: a rule of the
 * exact hostname wins over every wildcard rule, whatever their paths. Each group is indexed by path
 * (path-index.ts); a lookup is one map read for the host (one per label of the host for a wildcard)
 * and one index lookup per group in the host's chain, none of them a scan of the routes.
 *
 * A group's index and a host's chain are built on the host's first request: a mesh with a host per
 * service has thousands, and an isolate serves a few of them. Only configured hostnames are cached,
 * never a client's Host.
 */
import type { CompiledMatch, PathType, RequestView } from "./match.ts";
import { pathIndex, type EntrySink, type PathIndex } from "./path-index.ts";
import type { CompiledRule } from "./rule.ts";

export interface RouteEntry {
  /** The match's path, as the path index files it (known before the match is compiled). */
  readonly pathType: PathType;
  readonly pathKey: string;
  /** precedenceRank of the match: smaller first. */
  readonly rank: number;
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

/**
 * `routesByHostname`: each hostname's routes (undefined: routes without hostnames), in any form;
 * `addEntries` adds a route's entries to an index (the same objects for every hostname it lists).
 */
export function buildVirtualHosts<Route>(
  routesByHostname: ReadonlyMap<string | undefined, readonly Route[]>,
  addEntries: (route: Route, to: EntrySink) => void,
): VirtualHosts {
  const indexes = new Map<string | undefined, PathIndex>();
  const indexOf = (hostname: string | undefined) => {
    let index = indexes.get(hostname);
    if (!index) {
      const building = pathIndex();
      for (const route of routesByHostname.get(hostname)!) addEntries(route, building);
      indexes.set(hostname, (index = building.seal()));
    }
    return index;
  };
  // "*.example.com" is stored as ".example.com": a host matches when it ends with it.
  const wildcardSuffixes = [...routesByHostname.keys()]
    .filter((hostname): hostname is string => hostname?.startsWith("*.") === true)
    .map((hostname) => hostname.slice(1))
    .sort((a, b) => b.length - a.length);
  const hasAnyHost = routesByHostname.has(undefined);
  const chainFor = (exact: string | undefined, suffixes: readonly string[]) => {
    const chain: PathIndex[] = exact === undefined ? [] : [indexOf(exact)];
    for (const suffix of suffixes) chain.push(indexOf(`*${suffix}`));
    if (hasAnyHost) chain.push(indexOf(undefined));
    return chain;
  };
  const exactChains = new Map<string, PathIndex[]>();
  // A wildcard's chain: itself and every shorter wildcard it ends with, longest first.
  const wildcardChains = new Map<string, PathIndex[] | undefined>(wildcardSuffixes.map((suffix) => [suffix, undefined]));
  let anyChain: PathIndex[] | undefined;

  return {
    match(host, request) {
      let chain = exactChains.get(host);
      if (!chain && routesByHostname.has(host) && !host.startsWith("*.")) {
        exactChains.set(host, (chain = chainFor(host, wildcardSuffixes.length ? wildcardSuffixes.filter((suffix) => host.endsWith(suffix)) : wildcardSuffixes)));
      }
      if (!chain && wildcardChains.size) {
        // The longest matching wildcard starts at the host's first dot that begins one.
        for (let dot = host.indexOf("."); dot >= 0 && !chain; dot = host.indexOf(".", dot + 1)) {
          const suffix = host.slice(dot);
          if (!wildcardChains.has(suffix)) continue;
          chain = wildcardChains.get(suffix);
          if (!chain) wildcardChains.set(suffix, (chain = chainFor(undefined, wildcardSuffixes.filter((other) => suffix.endsWith(other)))));
        }
      }
      return firstMatch(chain ?? (anyChain ??= chainFor(undefined, [])), request);
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
