/**
 * One hostname group's route entries indexed by path, so that matching costs the same with 50 routes
 * or 10 000: a Map of Exact paths, the RegularExpression entries, and a Map of PathPrefix entries by
 * prefix (trailing slashes dropped). PathPrefix is element-wise ("/abc" matches "/abc", "/abc/" and
 * "/abc/x", never "/abcd"), so the prefixes that can match a path are exactly its cuts at a segment
 * boundary: the whole path, then the path up to each "/", right to left, down to "" (the "/" prefix).
 * A lookup reads the Exact map once and probes the prefix map once per segment of the request path,
 * longest first: a prefix trie flattened into one Map, the same lookups without a node per prefix to
 * build (a cold isolate builds the index of a host of 10 000 routes on its first request to it).
 * Only the candidates found are tested (method, headers, query), in the Gateway API's precedence:
 * Exact, then regexes longest first, then the longest matching prefix; within one path, method, most
 * headers, most query params, then namespace/name, rule and match index. Regexes cannot be indexed:
 * every regex entry of the group is tried, in order (linear in regexes).
 */
import type { RequestView } from "./match.ts";
import type { RouteEntry } from "./virtual-hosts.ts";

export interface PathIndex {
  /** The entry this group gives the request, if any. */
  match(request: RequestView): RouteEntry | undefined;
}

const byPrecedence = (a: RouteEntry, b: RouteEntry) =>
  a.rank - b.rank ||
  (a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : 0) ||
  a.order[1] - b.order[1] ||
  a.order[2] - b.order[2];

/** One entry, or several in precedence order: most paths have one, which needs no array. */
type Bucket = RouteEntry | RouteEntry[];

/** The first entry of a bucket whose conditions (the path being matched already) hold. */
function firstOf(bucket: Bucket | undefined, request: RequestView): RouteEntry | undefined {
  if (bucket === undefined) return undefined;
  if (!Array.isArray(bucket)) return !bucket.match.conditional || bucket.match.testRest(request) ? bucket : undefined;
  for (const entry of bucket) if (!entry.match.conditional || entry.match.testRest(request)) return entry;
  return undefined;
}

/** Adds to a bucket of a map; true when the bucket now holds several entries (to sort). */
function add(map: Map<string, Bucket>, key: string, entry: RouteEntry): boolean {
  const bucket = map.get(key);
  if (bucket === undefined) map.set(key, entry);
  else if (Array.isArray(bucket)) bucket.push(entry);
  else map.set(key, [bucket, entry]);
  return bucket !== undefined;
}

function sortBuckets(map: Map<string, Bucket>): void {
  for (const bucket of map.values()) if (Array.isArray(bucket)) bucket.sort(byPrecedence);
}

/** Where a group's entries go as they are made: the index, filled in one pass, then sealed. */
export interface EntrySink {
  add(entry: RouteEntry): void;
}

class Index implements PathIndex, EntrySink {
  private exact: Map<string, Bucket> | undefined;
  private regex: RouteEntry[] | undefined;
  private prefixes: Map<string, Bucket> | undefined;
  /** No prefix is longer: probes of longer cuts are skipped. */
  private longestPrefix = -1;
  private sortExact = false;
  private sortPrefixes = false;

  add(entry: RouteEntry): void {
    const pathKey = entry.pathKey;
    switch (entry.pathType) {
      case "Exact":
        if (add((this.exact ??= new Map()), pathKey, entry)) this.sortExact = true;
        return;
      case "RegularExpression":
        (this.regex ??= []).push(entry);
        return;
      default:
        // (A prefix not starting with "/", refused by the schema, can never match a request path.)
        if (pathKey !== "" && pathKey.charCodeAt(0) !== 47 /* "/" */) return;
        if (add((this.prefixes ??= new Map()), pathKey, entry)) this.sortPrefixes = true;
        if (pathKey.length > this.longestPrefix) this.longestPrefix = pathKey.length;
    }
  }

  /**
   * Puts each bucket in precedence order. Buckets are sorted alone: the entries of one bucket share
   * their path kind and path, and a longer prefix always wins over a shorter one (the schema allows
   * at most one trailing slash and no "//", so its written value is longer too).
   */
  seal(): PathIndex {
    if (this.sortExact) sortBuckets(this.exact!);
    this.regex?.sort(byPrecedence);
    if (this.sortPrefixes) sortBuckets(this.prefixes!);
    return this;
  }

  match(request: RequestView): RouteEntry | undefined {
    const path = request.path;
    const exact = this.exact && firstOf(this.exact.get(path), request);
    if (exact) return exact;
    if (this.regex) for (const entry of this.regex) if (entry.match.test(request)) return entry;
    const prefixes = this.prefixes;
    if (!prefixes) return undefined;
    if (path.charCodeAt(0) !== 47) return firstOf(prefixes.get(""), request);
    // The path's cuts at segment boundaries, longest first: the path itself, then up to each "/".
    let cut = path.length;
    if (cut > this.longestPrefix) cut = path.lastIndexOf("/", this.longestPrefix);
    while (cut >= 0) {
      const hit = firstOf(prefixes.get(cut === path.length ? path : path.slice(0, cut)), request);
      if (hit) return hit;
      cut = cut === 0 ? -1 : path.lastIndexOf("/", cut - 1);
    }
    return undefined;
  }
}

/** A group's index: entries added to it, then sealed. */
export const pathIndex = (): EntrySink & { seal(): PathIndex } => new Index();
