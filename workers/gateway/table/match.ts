/**
 * Compiles an HTTPRouteMatch into a predicate and a precedence key. Precedence is the Gateway API's:
 * Exact path, then the longest prefix, then method, then most header matches, then most query matches;
 * RegularExpression paths (implementation-specific there) sit between Exact and PathPrefix, longest
 * first, as Contour orders them, so a regex is not shadowed by a "/" prefix.
 */
import { compileRegex } from "../../../policies/regex.ts";
import type { HTTPRouteMatch } from "../../../policies/schema/index.ts";

export interface RequestView {
  method: string;
  /** Normalized path, exactly as it will be sent upstream. */
  path: string;
  headers: Headers;
  query: URLSearchParams;
}

export type PathType = "Exact" | "PathPrefix" | "RegularExpression";

export interface CompiledMatch {
  test(request: RequestView): boolean;
  /** Everything but the path (method, headers, query), for candidates the path index already matched. */
  testRest(request: RequestView): boolean;
  /** False when the match has no method, header or query condition: a path match is enough. */
  readonly conditional: boolean;
  readonly pathType: PathType;
  /** The path as written (Exact and RegularExpression), or the prefix without trailing slashes (PathPrefix, "" for "/"). */
  readonly pathKey: string;
  /** For ReplacePrefixMatch: the prefix this match matched ("/" when it matches everything). */
  readonly prefix: string | undefined;
  /** Sort key: smaller sorts first. */
  readonly precedence: readonly number[];
}

const PATH_KIND_ORDER = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

type ValueTest = (value: string | null) => boolean;

const valueTest = (type: "Exact" | "RegularExpression", expected: string): ValueTest => {
  if (type === "Exact") return (value) => value === expected;
  const pattern = compileRegex(expected);
  return (value) => value !== null && pattern.test(value);
};

function pathTest(type: "Exact" | "PathPrefix" | "RegularExpression", value: string): (path: string) => boolean {
  if (type === "Exact") return (path) => path === value;
  if (type === "RegularExpression") {
    const pattern = compileRegex(value);
    return (path) => pattern.test(path);
  }
  // Element-wise prefix: "/abc" matches "/abc", "/abc/" and "/abc/def", never "/abcd".
  const prefix = value.replace(/\/+$/, "");
  if (prefix === "") return () => true;
  const withSlash = `${prefix}/`;
  return (path) => path === prefix || path.startsWith(withSlash);
}

const NONE: readonly never[] = [];

/** "/abc/" → "/abc", "/" → "": the prefix an element-wise PathPrefix matches on. */
function withoutTrailingSlashes(value: string): string {
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 47 /* "/" */) end--;
  return end === value.length ? value : value.slice(0, end);
}

export const pathTypeOf = (match: HTTPRouteMatch): PathType => match.path?.type ?? "PathPrefix";

/** What the path index files a match under: CompiledMatch.pathKey, without compiling the match. */
export function pathKeyOf(match: HTTPRouteMatch): string {
  const value = match.path?.value ?? "/";
  return pathTypeOf(match) === "PathPrefix" ? withoutTrailingSlashes(value) : value;
}

/**
 * The precedence key of a match as one number (smaller first), from the match as written: what the
 * path index sorts by without compiling anything. It orders exactly as comparePrecedence over
 * CompiledMatch.precedence (paths are at most 1024 characters, headers and query params at most 16).
 */
export function precedenceRank(match: HTTPRouteMatch): number {
  const kind = PATH_KIND_ORDER[pathTypeOf(match)];
  const length = Math.min((match.path?.value ?? "/").length, 1024);
  const method = match.method === undefined ? 1 : 0;
  return (((kind * 1025 + (1024 - length)) * 2 + method) * 17 + (16 - (match.headers?.length ?? 0))) * 17 + (16 - (match.queryParams?.length ?? 0));
}

interface ValueCondition {
  readonly name: string;
  readonly test: ValueTest;
}

/**
 * One match, compiled once per table: thousands are built for a large mesh before its first request,
 * so the shape is fixed and small, and the path predicate of Exact and PathPrefix matches (which the
 * path index answers without it) is made on first use. Regexes are compiled at once.
 */
class Match implements CompiledMatch {
  readonly pathType: PathType;
  readonly pathKey: string;
  readonly prefix: string | undefined;
  readonly conditional: boolean;
  private readonly pathValue: string;
  private readonly method: string | undefined;
  private readonly headers: readonly ValueCondition[];
  private readonly query: readonly ValueCondition[];
  private testPath: ((path: string) => boolean) | undefined;
  private sortKey: readonly number[] | undefined;

  constructor(match: HTTPRouteMatch) {
    const pathType = match.path?.type ?? "PathPrefix";
    const pathValue = match.path?.value ?? "/";
    this.pathType = pathType;
    this.pathValue = pathValue;
    this.method = match.method;
    this.headers = match.headers?.length ? match.headers.map((h) => ({ name: h.name.toLowerCase(), test: valueTest(h.type, h.value) })) : NONE;
    this.query = match.queryParams?.length ? match.queryParams.map((q) => ({ name: q.name, test: valueTest(q.type, q.value) })) : NONE;
    this.conditional = this.method !== undefined || this.headers.length > 0 || this.query.length > 0;
    const prefix = pathType === "PathPrefix" ? withoutTrailingSlashes(pathValue) : undefined;
    this.pathKey = prefix ?? pathValue;
    this.prefix = prefix === undefined ? undefined : prefix || "/";
    this.testPath = pathType === "RegularExpression" ? pathTest(pathType, pathValue) : undefined;
  }

  test(request: RequestView): boolean {
    return (this.testPath ??= pathTest(this.pathType, this.pathValue))(request.path) && this.testRest(request);
  }

  testRest(request: RequestView): boolean {
    if (this.method !== undefined && request.method !== this.method) return false;
    for (const header of this.headers) if (!header.test(request.headers.get(header.name))) return false;
    for (const param of this.query) if (!param.test(request.query.get(param.name))) return false;
    return true;
  }

  get precedence(): readonly number[] {
    return (this.sortKey ??= [
      PATH_KIND_ORDER[this.pathType],
      -this.pathValue.length,
      this.method === undefined ? 1 : 0,
      -this.headers.length,
      -this.query.length,
    ]);
  }
}

export const compileMatch = (match: HTTPRouteMatch): CompiledMatch => new Match(match);

export function comparePrecedence(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
