/**
 * One hostname group's route entries indexed by path, built once per table, so that matching costs
 * the same with 50 routes or 10 000: a Map of Exact paths, the RegularExpression entries, and a trie of
 * PathPrefix entries by path segment. A lookup reads the Map once, walks the request path's segments
 * down the trie once, and tests (method, headers, query) only the candidates the index yields, in the
 * Gateway API's precedence: Exact, then regexes longest first, then the longest matching prefix; within
 * one path, method, most headers, most query params, then namespace/name, rule and match index.
 * Regexes cannot be indexed: every regex entry of the group is tried, in order (linear in regexes).
 */
import { comparePrecedence, type RequestView } from "./match.ts";
import type { RouteEntry } from "./virtual-hosts.ts";

export interface PathIndex {
  /** The entry this group gives the request, if any. */
  match(request: RequestView): RouteEntry | undefined;
}

interface PrefixNode {
  readonly parent: PrefixNode | undefined;
  children: Map<string, PrefixNode> | undefined;
  /** Entries whose prefix (trailing slashes dropped) ends at this node, in precedence order. */
  entries: RouteEntry[];
}

export const byPrecedence = (a: RouteEntry, b: RouteEntry) =>
  comparePrecedence(a.match.precedence, b.match.precedence) ||
  (a.order[0] < b.order[0] ? -1 : a.order[0] > b.order[0] ? 1 : 0) ||
  a.order[1] - b.order[1] ||
  a.order[2] - b.order[2];

/** The first entry of a bucket whose conditions (the path being matched already) hold. */
function firstOf(entries: readonly RouteEntry[], request: RequestView): RouteEntry | undefined {
  for (const entry of entries) if (!entry.match.conditional || entry.match.testRest(request)) return entry;
  return undefined;
}

/** A group's index. A mesh with a host per service has thousands, most of one or two entries: each part is made only when needed. */
class Index implements PathIndex {
  private exact: Map<string, RouteEntry[]> | undefined;
  private regex: RouteEntry[] | undefined;
  private readonly root: PrefixNode = { parent: undefined, children: undefined, entries: [] };

  constructor(entries: readonly RouteEntry[]) {
    let sortExact = false;
    let prefixes: PrefixNode[] | undefined;
    for (const entry of entries) {
      const { pathType, pathKey } = entry;
      if (pathType === "Exact") {
        this.exact ??= new Map();
        const bucket = this.exact.get(pathKey);
        if (bucket) sortExact = bucket.push(entry) > 0;
        else this.exact.set(pathKey, [entry]);
      } else if (pathType === "RegularExpression") {
        (this.regex ??= []).push(entry);
      } else {
        // A prefix not starting with "/" (refused by the schema) can never match a request path.
        const at = pathKey === "" ? this.root : pathKey.charCodeAt(0) === 47 ? insert(this.root, pathKey) : undefined;
        if (at && at.entries.push(entry) === 2) (prefixes ??= []).push(at);
      }
    }
    // Buckets are sorted alone: entries of one bucket share their path kind and path, and a deeper trie
    // node always wins over its ancestors (its prefix is longer, and the schema allows at most one
    // trailing slash and no "//", so the written value is longer too).
    if (sortExact) for (const bucket of this.exact!.values()) if (bucket.length > 1) bucket.sort(byPrecedence);
    this.regex?.sort(byPrecedence);
    if (prefixes) for (const at of prefixes) at.entries.sort(byPrecedence);
  }

  match(request: RequestView): RouteEntry | undefined {
    const path = request.path;
    const bucket = this.exact?.get(path);
    if (bucket) {
      const hit = firstOf(bucket, request);
      if (hit) return hit;
    }
    if (this.regex) for (const entry of this.regex) if (entry.match.test(request)) return entry;
    // Down the trie as far as the path's segments lead; every node on the way is a matching prefix.
    let at = this.root;
    if (path.charCodeAt(0) === 47 /* "/" */) {
      let start = 1;
      while (at.children) {
        const slash = path.indexOf("/", start);
        const end = slash < 0 ? path.length : slash;
        const child = at.children.get(path.slice(start, end));
        if (!child) break;
        at = child;
        if (slash < 0) break;
        start = slash + 1;
      }
    }
    for (let candidate: PrefixNode | undefined = at; candidate; candidate = candidate.parent) {
      if (candidate.entries.length === 0) continue;
      const hit = firstOf(candidate.entries, request);
      if (hit) return hit;
    }
    return undefined;
  }
}

export const buildPathIndex = (entries: readonly RouteEntry[]): PathIndex => new Index(entries);

/** The node of prefix "/a/b" (segments "a", "b"), made on the way if missing. */
function insert(root: PrefixNode, prefix: string): PrefixNode {
  let at = root;
  let start = 1;
  while (true) {
    const slash = prefix.indexOf("/", start);
    const end = slash < 0 ? prefix.length : slash;
    const segment = prefix.slice(start, end);
    at.children ??= new Map();
    let child = at.children.get(segment);
    if (!child) at.children.set(segment, (child = { parent: at, children: undefined, entries: [] }));
    at = child;
    if (slash < 0) return at;
    start = slash + 1;
  }
}
